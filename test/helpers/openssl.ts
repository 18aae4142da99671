// The openssl CLI as a real peer: s_server and s_client on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';

import { freePort, withTimeout } from './net.js';

export interface OpensslServer {
  port: number;
  proc: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `openssl s_server` on 127.0.0.1 and waits until it accepts.
 * @param args Extra arguments (`-tls1_3`, `-www`, `-cert`, …).
 */
export async function startSServer(args: string[]): Promise<OpensslServer> {
  const port = await freePort();
  const proc = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (out.includes('ACCEPT')) resolve();
      };
      proc.stdout!.on('data', check);
      proc.once('close', (code) => reject(new Error(`openssl s_server exited (${code}): ${out}`)));
      check();
    }),
    10_000,
    'openssl s_server start',
  );
  return {
    port,
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

export interface SClientResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `openssl s_client` against 127.0.0.1:port, writes `input`, and
 * resolves when it exits (it is killed after `timeoutMs`).
 */
export async function runSClient(port: number, args: string[], input = '', timeoutMs = 15_000): Promise<SClientResult> {
  const proc = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  proc.stdin!.on('error', () => {});
  proc.stdin!.end(input);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
