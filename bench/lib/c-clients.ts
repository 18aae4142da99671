// The C load generators, run alike against every engine: `wrk` for HTTP(S)
// requests and `openssl s_time` for handshakes. Each run is a child process
// pinned to the load-generator cores, bounded by a hard time limit, and its
// summary is parsed into counts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

import { pinnedCommand } from './cpu-pinning.js';
import { track } from './server-process.js';

export interface ClientRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Ended by the harness (a warm-up's end or the hard limit), not by itself. */
  killed: boolean;
}

/**
 * Runs `command` on `cpus`; SIGTERM after `stopAfterMs` (a warm-up that is
 * not read), SIGKILL at `limitMs` whatever happens.
 */
export function runClient(command: string, args: readonly string[], cpus: string | null, limitMs: number, stopAfterMs?: number): Promise<ClientRun> {
  const [cmd, argv] = pinnedCommand(cpus, command, args);
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const stop = stopAfterMs === undefined ? undefined : setTimeout(() => ((killed = true), child.kill('SIGTERM')), stopAfterMs);
    const hard = setTimeout(() => ((killed = true), child.kill('SIGKILL')), limitMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(hard);
      if (stop) clearTimeout(stop);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

function findBinary(name: string): string | null {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/bin']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return null;
}

export const findWrk = (): string | null => findBinary('wrk');
export const findOpenssl = (): string | null => findBinary('openssl');

// ---- wrk ----

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  /** Whole seconds (wrk takes no fractions). */
  seconds: number;
  /** `Connection: close`: a new connection (and handshake) per request. */
  close: boolean;
}

export interface WrkResult {
  requests: number;
  /** wrk's own measured time. */
  seconds: number;
  requestsPerSec: number;
  /** Socket errors (connect + read + write + timeout) and non-2xx/3xx responses. */
  errors: number;
  errorText: string | null;
}

export function wrkArgs(o: WrkOptions): string[] {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '5s'];
  if (o.close) args.push('-H', 'Connection: close');
  return [...args, o.url];
}

const TIME_UNITS: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Reads wrk's summary ("83011 requests in 1.10s, 3.17MB read", "Socket errors: …", "Non-2xx or 3xx responses: N"). */
export function parseWrk(stdout: string): WrkResult {
  const m = /(\d+) requests in ([\d.]+)(us|ms|s|m|h),/.exec(stdout);
  if (!m) throw new Error(`no wrk summary in: ${stdout.trim().slice(0, 300) || '(nothing)'}`);
  const requests = Number(m[1]);
  const seconds = Number(m[2]) * TIME_UNITS[m[3]!]!;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  const socketErrors = socket ? socket.slice(1, 5).reduce((a, x) => a + Number(x), 0) : 0;
  const errors = socketErrors + (non2xx ? Number(non2xx[1]) : 0);
  const errorText = errors ? [socket?.[0], non2xx?.[0]].filter(Boolean).join('; ') : null;
  return { requests, seconds, requestsPerSec: seconds > 0 ? requests / seconds : 0, errors, errorText };
}

// ---- openssl s_time ----

export type STimeMode = 'new' | 'reuse';

/**
 * `-new`: a full handshake per connection, closed without a request.
 * `-reuse`: resume the first connection's session; with TLS 1.3 the ticket
 * arrives after the handshake, so each connection sends `GET /` (HTTP/1.0,
 * `-www`) and reads the answer to the end, which also reads the ticket.
 */
export function sTimeArgs(port: number, mode: STimeMode, seconds: number): string[] {
  const args = ['s_time', '-connect', `127.0.0.1:${port}`, `-${mode}`, '-time', String(seconds)];
  return mode === 'reuse' ? [...args, '-www', '/'] : args;
}

export interface STimeResult {
  connections: number;
  /** Connections s_time marked as resumed ('r'). */
  resumed: number;
}

/** Reads one s_time's output: "N connections in Xs; …" and the progress line of one character per connection ('r': resumed). */
export function parseSTime(stdout: string): STimeResult {
  const m = /(\d+) connections in [\d.]+s;/.exec(stdout);
  if (!m) throw new Error(`no s_time summary in: ${stdout.trim().slice(-300) || '(nothing)'}`);
  let resumed = 0;
  for (const line of stdout.split('\n')) if (/^[rt23*]+$/.test(line)) resumed += line.split('r').length - 1;
  return { connections: Number(m[1]), resumed };
}

export interface STimeGroup extends STimeResult {
  /** Wall seconds from the first start to the last exit. */
  seconds: number;
}

/** `parallel` s_time processes at once against one port; their counts summed. */
export async function runSTimeGroup(openssl: string, port: number, mode: STimeMode, seconds: number, parallel: number, cpus: string | null): Promise<STimeGroup> {
  const started = performance.now();
  // s_time checks the clock in whole seconds: it runs `seconds` to `seconds + 1` s.
  const limitMs = (seconds + 15) * 1000;
  const runs = await Promise.all(Array.from({ length: parallel }, () => runClient(openssl, sTimeArgs(port, mode, seconds), cpus, limitMs)));
  const wall = (performance.now() - started) / 1000;
  const out: STimeGroup = { connections: 0, resumed: 0, seconds: wall };
  for (const r of runs) {
    if (r.killed) throw new Error(`openssl s_time -${mode} did not finish within ${limitMs / 1000} s`);
    if (r.code !== 0) throw new Error(`openssl s_time -${mode} exited with ${r.code}: ${(r.stdout + r.stderr).trim().split('\n').slice(-3).join(' / ')}`);
    const p = parseSTime(r.stdout);
    out.connections += p.connections;
    out.resumed += p.resumed;
  }
  return out;
}
