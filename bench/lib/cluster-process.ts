// examples/cluster.ts as a bench server: N native worker processes with
// SO_REUSEPORT on one port, on the bench's certificate. Run on every core
// the bench has (`cpus`; the harness itself is pinned to the client's, and
// children inherit that): its workers are meant to spread.
import { spawn, type ChildProcess } from 'node:child_process';

import { pinnedCommand } from './cpu-pinning.js';

const EXAMPLE = new URL('../../examples/cluster.ts', import.meta.url).pathname;

export interface ClusterProcess {
  port: number;
  /** SIGTERM to the primary (graceful stop of every worker); resolves at its exit. */
  stop(): Promise<void>;
}

/** Starts `workers` workers; resolves once the example printed `listening <port>` (PORT=0: it picks one). */
export async function startCluster(workers: number, cpus: string | null, certFile: string, keyFile: string, env: NodeJS.ProcessEnv): Promise<ClusterProcess> {
  const [command, args] = pinnedCommand(cpus, process.execPath, ['--import', 'tsx', EXAMPLE]);
  const proc: ChildProcess = spawn(command, args, {
    env: { ...process.env, ...env, PORT: '0', WORKERS: String(workers), CERT: certFile, KEY: keyFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the cluster example did not listen within 30 s')), 30_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      const listening = /^listening (\d+)$/m.exec(out);
      if (listening) {
        clearTimeout(timer);
        resolve(Number(listening[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the cluster example exited (${code}) before it listened`));
    });
  });
  return {
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(kill);
    },
  };
}
