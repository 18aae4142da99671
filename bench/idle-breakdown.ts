// What an idle TLS connection costs the server, part by part (issue 12,
// "Measuring it fairly": SSL after a TLS 1.3 handshake, buffers, the libuv
// handle, the JS object). Not part of `pnpm bench`: run it on its own,
//
//   node --import tsx bench/idle-breakdown.ts [--connections N] [--transport native|js|both] [--rounds R] [--json FILE]
//
// Per transport, two stages, each against a fresh server process
// (bench/lib/idle-server.ts) whose memory is read after gc() before and with
// N connections:
//   accepted  N TCP connections that never send a ClientHello: the server's
//             per-connection state before any TLS (native: the connection
//             struct with its libuv handles, a fresh SSL and its two buffer
//             BIOs, and no JS object yet; js: also net.Socket and TlsEngine);
//   secure    N TLS 1.3 connections (rxtls clients on the native transport,
//             X25519, the ECDSA P-256 certificate made for the run), handshake
//             done, tickets read, idle.
// The JS object is the JS heap's growth; the native parts are RSS minus it.
// The sizes of the native connection's structs come from the compiler
// (`c++ -fsyntax-only` on the addon's headers), when one is installed.
// RSS moves in pages and malloc keeps what it frees, so the figures are
// good to a few hundred bytes per connection at N = 2,000, not better.
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { numberValue, parseCommandLine, UsageError } from '@rxtls/bench';
import { connectTls, createSelfSignedCertificate, TLSClientContext, type NativeTlsConnection, type Transport } from '@rxtls/core';

const ROOT = new URL('..', import.meta.url).pathname;
const NATIVE = join(ROOT, 'packages/native');

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  accepted: number;
  secure: number;
}

/** Per-connection growth of each figure, bytes. */
type PerConnection = Record<'rss' | 'heapUsed' | 'external' | 'arrayBuffers', number>;

class IdleServer {
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;

  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else this.lines.push(line);
    });
  }

  static async start(transport: Transport, certFile: string, keyFile: string): Promise<{ server: IdleServer; port: number }> {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'bench/lib/idle-server.ts'), '--transport', transport, '--cert', certFile, '--key', keyFile], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const server = new IdleServer(child);
    const ready = JSON.parse(await server.next(20_000)) as { ready: number };
    return { server, port: ready.ready };
  }

  private next(timeoutMs: number): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the idle server did not answer')), timeoutMs);
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  async ask(command: 'gc' | 'stats'): Promise<Memory> {
    this.child.stdin.write(command + '\n');
    return JSON.parse(await this.next(10_000)) as Memory;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
      setTimeout(() => this.child.kill('SIGKILL'), 3000).unref();
    });
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Opens `n` connections, at most 200 being set up at once; resolves with closers once `ready` says each is up. */
async function openAll<T>(n: number, open: (done: (ok: boolean) => void) => T): Promise<{ conns: T[]; failed: number }> {
  const conns: T[] = [];
  let failed = 0;
  let next = 0;
  await new Promise<void>((resolve) => {
    let settled = 0;
    const one = () => {
      if (next >= n) return;
      next++;
      let counted = false;
      conns.push(
        open((ok) => {
          if (counted) return;
          counted = true;
          if (!ok) failed++;
          if (++settled === n) resolve();
          else one();
        }),
      );
    };
    for (let i = 0; i < Math.min(200, n); i++) one();
  });
  return { conns, failed };
}

async function stage(kind: 'accepted' | 'secure', transport: Transport, n: number, certFile: string, keyFile: string): Promise<PerConnection> {
  const { server, port } = await IdleServer.start(transport, certFile, keyFile);
  const context = new TLSClientContext();
  const closers: Array<() => void> = [];
  try {
    await sleep(300);
    const before = await server.ask('gc');
    if (kind === 'accepted') {
      const { conns, failed } = await openAll(n, (done) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => done(true));
        s.on('error', () => done(false));
        return s;
      });
      if (failed) throw new Error(`${failed} of ${n} TCP connections failed`);
      for (const s of conns) closers.push(() => s.destroy());
    } else {
      const { conns, failed } = await openAll(n, (done) => {
        // Always named: @rxtls/core's default transport may change.
        const c: NativeTlsConnection = connectTls({ host: '127.0.0.1', port, context, verifyPeer: false, transport: 'native' });
        c.onsecure = () => done(true);
        c.onclose = () => done(false);
        return c;
      });
      if (failed) throw new Error(`${failed} of ${n} TLS connections failed`);
      for (const c of conns) closers.push(() => c.destroy());
    }
    // Until the server has them all (a TCP connect completes before the accept).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await server.ask('stats');
      if ((kind === 'accepted' ? s.accepted : s.secure) >= n) break;
      if (Date.now() > deadline) throw new Error(`the server has ${s.accepted} accepted, ${s.secure} secure of ${n}`);
      await sleep(50);
    }
    // Let the tickets go out and the last buffers drain before reading.
    await sleep(500);
    const after = await server.ask('gc');
    const per = (k: keyof PerConnection) => (after[k] - before[k]) / n;
    return { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external'), arrayBuffers: per('arrayBuffers') };
  } finally {
    for (const close of closers) close();
    await sleep(200);
    await server.stop();
    context.free();
  }
}

/**
 * sizeof of the native transport's per-connection structs, from the
 * compiler: a translation unit of the addon's headers whose only errors
 * name each size (`SizeIs<1112>`); null without a compiler or headers.
 */
function nativeSizes(): Record<string, number> | null {
  const types: Record<string, string> = {
    TcpConn: 'rxtls::TcpConn',
    TcpConnection: 'rxtls::TcpConnection',
    uv_tcp_t: 'uv_tcp_t',
    uv_timer_t: 'uv_timer_t',
    uv_connect_t: 'uv_connect_t',
    uv_write_t: 'uv_write_t',
    uv_shutdown_t: 'uv_shutdown_t',
    BufferChain: 'rxtls::BufferChain',
  };
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-sizes-'));
  try {
    const gypi = readFileSync(join(NATIVE, 'build/config.gypi'), 'utf8');
    const nodeDir = /"nodedir":\s*"([^"]+)"/.exec(gypi)?.[1];
    const addonApi = (createRequire(join(NATIVE, 'package.json'))('node-addon-api') as { include_dir: string }).include_dir;
    if (!nodeDir) return null;
    const file = join(dir, 'sizes.cc');
    writeFileSync(
      file,
      ['#include "tcp_connection.h"', '#include "buffer_bio.h"', 'template <unsigned long N> struct SizeIs;', ...Object.entries(types).map(([name, t]) => `SizeIs<sizeof(${t})> size_${name};`)].join('\n') + '\n',
    );
    const args = ['-std=c++17', '-fsyntax-only', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DOPENSSL_API_COMPAT=30000', `-I${join(nodeDir, 'include/node')}`, `-I${addonApi}`, `-I${join(NATIVE, 'src')}`, file];
    let diagnostics = '';
    try {
      execFileSync('c++', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      diagnostics = String((err as { stderr?: string }).stderr ?? '');
    }
    const out: Record<string, number> = {};
    for (const m of diagnostics.matchAll(/SizeIs<(\d+)(?:ul|UL)?> size_(\w+)/g)) out[m[2]!] = Number(m[1]);
    return Object.keys(out).length === Object.keys(types).length ? out : null;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianOf(runs: PerConnection[]): PerConnection {
  const pick = (k: keyof PerConnection) => median(runs.map((r) => r[k]));
  return { rss: pick('rss'), heapUsed: pick('heapUsed'), external: pick('external'), arrayBuffers: pick('arrayBuffers') };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2).padStart(7)} KiB`;

function report(transport: Transport, n: number, accepted: PerConnection, secure: PerConnection, sizes: Record<string, number> | null): string[] {
  const lines = [`${transport} transport, ${n} idle connections, server side, per connection:`];
  const row = (label: string, bytes: number | null, why = '') => lines.push(`  ${label.padEnd(52)}${bytes === null ? '        -    ' : kib(bytes)}${why ? `   ${why}` : ''}`);
  row('after a TLS 1.3 handshake: RSS', secure.rss);
  row('  the JS object (JS heap after gc)', secure.heapUsed, transport === 'native' ? 'NativeTlsConnection, its addon wrapper, the handlers' : 'TlsEngine, net.Socket and its handle wrap, the handlers');
  row('  Buffers in JS (external)', secure.external, 'arrayBuffers ' + kib(secure.arrayBuffers).trim());
  row('  native: RSS - JS heap', secure.rss - secure.heapUsed);
  if (transport === 'native') {
    const conn = sizes?.['TcpConn'] ?? null;
    row('    connection struct incl. libuv handles', conn, sizes ? `sizeof TcpConn (uv_tcp_t ${sizes['uv_tcp_t']}, uv_timer_t ${sizes['uv_timer_t']}, uv_write_t ${sizes['uv_write_t']}, uv_connect_t ${sizes['uv_connect_t']}, uv_shutdown_t ${sizes['uv_shutdown_t']} B inside)` : 'no compiler: sizes unknown');
    row('    buffers while idle', sizes ? 2 * sizes['BufferChain']! : null, 'two empty BufferChains: a drained block is freed at once (buffer_bio.h)');
    if (sizes) row('    SSL after the handshake, and malloc overhead', secure.rss - secure.heapUsed - sizes['TcpConn']! - 2 * sizes['BufferChain']!, 'the rest');
  }
  row('accepted, before the ClientHello: RSS', accepted.rss, transport === 'native' ? 'no JS object yet' : 'the JS objects exist from the accept');
  row('  of it the JS heap', accepted.heapUsed);
  if (transport === 'native' && sizes) row('  a fresh SSL (SSL_new) and its BIOs', accepted.rss - accepted.heapUsed - sizes['TcpConn']!, 'RSS - JS heap - TcpConn');
  row('what the handshake adds (secure - accepted): RSS', secure.rss - accepted.rss);
  row('  of it native (RSS - JS heap)', secure.rss - secure.heapUsed - (accepted.rss - accepted.heapUsed), 'session, keys, peer state the SSL keeps');
  return lines;
}

async function main(): Promise<void> {
  const { values: f } = parseCommandLine({
    args: process.argv.slice(2),
    options: { connections: { type: 'string' }, transport: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (f.help) {
    process.stdout.write('usage: node --import tsx bench/idle-breakdown.ts [--connections N (2000)] [--transport native|js|both (native)] [--rounds R (1)] [--json FILE]\n');
    return;
  }
  const n = numberValue('connections', f.connections) ?? 2000;
  const rounds = numberValue('rounds', f.rounds) ?? 1;
  if (!Number.isInteger(n) || n < 100 || n > 20_000) throw new UsageError('--connections must be an integer from 100 to 20000');
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new UsageError('--rounds must be an integer from 1 to 9');
  const which = f.transport ?? 'native';
  if (which !== 'native' && which !== 'js' && which !== 'both') throw new UsageError('--transport must be native, js or both');
  const transports: Transport[] = which === 'both' ? ['native', 'js'] : [which];
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-idle-'));
  try {
    const { cert, key } = createSelfSignedCertificate({ keyType: 'ec' });
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    writeFileSync(certFile, cert);
    writeFileSync(keyFile, key, { mode: 0o600 });
    const sizes = nativeSizes();
    const out: Record<string, unknown> = { connections: n, rounds, node: process.version, openssl: process.versions.openssl, sizes };
    const lines: string[] = [];
    for (const transport of transports) {
      const accepted: PerConnection[] = [];
      const secure: PerConnection[] = [];
      for (let r = 0; r < rounds; r++) {
        process.stderr.write(`${transport}: round ${r + 1}/${rounds}, accepted…\n`);
        accepted.push(await stage('accepted', transport, n, certFile, keyFile));
        process.stderr.write(`${transport}: round ${r + 1}/${rounds}, secure…\n`);
        secure.push(await stage('secure', transport, n, certFile, keyFile));
      }
      const a = medianOf(accepted);
      const s = medianOf(secure);
      out[transport] = { accepted: a, secure: s, rounds: { accepted, secure } };
      lines.push(...report(transport, n, a, s, sizes), '');
    }
    lines.push('RSS is the server process\'s resident memory (V8 pages included); kernel socket memory is not in it.');
    process.stdout.write(lines.join('\n') + '\n');
    if (f.json) writeFileSync(f.json, JSON.stringify(out, null, 2) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) process.stderr.write(`idle-breakdown: ${err.message}\n`);
  else process.stderr.write(`idle-breakdown: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
