// examples/cluster.ts as a bench server: N native worker processes with
// SO_REUSEPORT on one port, on the bench's certificate. Not pinned: its
// workers are meant to spread over every core.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';

const EXAMPLE = new URL('../../examples/cluster.ts', import.meta.url).pathname;

export interface ClusterProcess {
  port: number;
  /** SIGTERM to the primary (graceful stop of every worker); resolves at its exit. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts `workers` workers; resolves once the example printed `listening <port>`. */
export async function startCluster(workers: number, certFile: string, keyFile: string, env: NodeJS.ProcessEnv): Promise<ClusterProcess> {
  const port = await freePort();
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], {
    env: { ...process.env, ...env, PORT: String(port), WORKERS: String(workers), CERT: certFile, KEY: keyFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the cluster example did not listen within 30 s')), 30_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      if (/^listening \d+$/m.test(out)) {
        clearTimeout(timer);
        resolve();
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
