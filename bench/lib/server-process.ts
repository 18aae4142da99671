// Bench servers as child processes: a node engine server (bench/server.ts)
// or nginx, started, queried and stopped the same way by the harness.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import type { HttpImpl, Protocol } from '../servers/types.js';
import { pinnedCommand } from './cpu-pinning.js';

/** What bench/server.ts answers to `stats` and `gc`. */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  connections: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** TLS handshakes in the window, and how many resumed (servers that count them). */
  handshakes?: number;
  resumed?: number;
}

export type Command = 'stats' | 'gc' | 'reset' | 'profile-start' | 'profile-stop';

export interface ServerTarget {
  readonly label: string;
  readonly port: number;
  readonly pid: number;
  /** A control command; null where the server has no control channel (nginx) or the command returns nothing. */
  command(cmd: Command): Promise<ServerStats | null>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** An id of bench/servers/table.ts. */
  engine: string;
  protocol: Protocol;
  http?: HttpImpl;
  certFile: string;
  keyFile: string;
  /** Directory for a V8 CPU profile of the server, if wanted. */
  cpuProfDir?: string;
  profileName?: string;
  /** Extra node flags. */
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
  /** CPUs to pin the server to (taskset -c); null: not pinned. */
  cpus: string | null;
}

const ROOT = new URL('../..', import.meta.url).pathname;
const READY_TIMEOUT_MS = 20_000;

/** Raises the fd limit to the hard limit (the memory scenario holds thousands of sockets), then execs. */
const ULIMIT_WRAPPER = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

/** Every child (server or C load generator) still running, so that an interrupted run leaves none behind. */
const live = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Kills every child of the harness at once (an interrupted run). */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child: ChildProcess, graceful: () => void): Promise<void> {
  graceful();
  if (await waitExit(child, 4000)) return;
  child.kill('SIGTERM');
  if (await waitExit(child, 2000)) return;
  child.kill('SIGKILL');
  await waitExit(child, 2000);
}

export class NodeServerProcess implements ServerTarget {
  readonly label: string;
  port = 0;
  pid = 0;
  private readonly child_: ChildProcess;
  private readonly replies_: Array<(line: string) => void> = [];
  private stderr_ = '';

  private constructor(label: string, child: ChildProcess) {
    this.label = label;
    this.child_ = child;
  }

  static async start(o: SpawnOptions): Promise<NodeServerProcess> {
    const nodeArgs = ['--expose-gc', ...(o.nodeFlags ?? [])];
    const profileEnv: NodeJS.ProcessEnv = {};
    if (o.cpuProfDir) {
      profileEnv['BENCH_CPU_PROF_DIR'] = o.cpuProfDir;
      profileEnv['BENCH_CPU_PROF_NAME'] = o.profileName ?? `${o.engine}-${o.protocol}`;
    }
    const args = [
      ...nodeArgs,
      '--import',
      'tsx',
      join(ROOT, 'bench/server.ts'),
      '--engine',
      o.engine,
      '--protocol',
      o.protocol,
      '--http',
      o.http ?? 'minimal',
      '--cert',
      o.certFile,
      '--key',
      o.keyFile,
    ];
    const child = track(
      spawn('sh', ['-c', ULIMIT_WRAPPER, 'sh', ...pinnedCommand(o.cpus, process.execPath, args).flat()], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, ...o.env, ...profileEnv },
      }),
    );
    const proc = new NodeServerProcess(`${o.engine}/${o.protocol}`, child);
    child.stderr!.on('data', (d: Buffer) => {
      proc.stderr_ = (proc.stderr_ + d.toString()).slice(-4000);
    });
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<{ ready: number; pid: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${proc.label}: not ready after ${READY_TIMEOUT_MS} ms\n${proc.stderr_}`)), READY_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${proc.label}: exited with ${code} before it was ready\n${proc.stderr_.trim()}`));
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as { ready: number; pid: number });
        } catch {
          reject(new Error(`${proc.label}: unexpected first line ${line}`));
        }
      });
    });
    const first = await ready.catch(async (err: unknown) => {
      await stopChild(child, () => child.stdin!.end());
      throw err;
    });
    proc.port = first.ready;
    proc.pid = first.pid;
    lines.on('line', (line) => proc.replies_.shift()?.(line));
    return proc;
  }

  command(cmd: Command): Promise<ServerStats | null> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no answer to ${cmd}`)), 15_000);
      this.replies_.push((line) => {
        clearTimeout(timer);
        const o = JSON.parse(line) as ServerStats | { ok: true } | { error: string };
        if ('error' in o) reject(new Error(o.error));
        else resolve('ok' in o ? null : o);
      });
      this.child_.stdin!.write(cmd + '\n');
    });
  }

  stop(): Promise<void> {
    return stopChild(this.child_, () => this.child_.stdin!.end());
  }

  /** Recent stderr output, for error reports. */
  get stderr(): string {
    return this.stderr_;
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Where Debian puts nginx; null when it is not installed. */
export function findNginx(): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (existsSync(p)) return p;
  return null;
}

/**
 * nginx as the C reference: one process (master_process off, so the pid we
 * spawn is the one serving, and its /proc figures are the server's; pinned
 * to the server core like every other server), TLS 1.3,
 * X25519, the bench certificate, `return 200` with the same body.
 */
export class NginxProcess implements ServerTarget {
  readonly label = 'nginx';
  readonly port: number;
  readonly pid: number;
  private readonly child_: ChildProcess;

  private constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.pid = child.pid!;
    this.child_ = child;
  }

  static async start(binary: string, dir: string, certFile: string, keyFile: string, body: string, cpus: string | null): Promise<NginxProcess> {
    const port = await freePort();
    const prefix = join(dir, `nginx-${port}`);
    mkdirSync(join(prefix, 'tmp'), { recursive: true });
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConfig(prefix, port, certFile, keyFile, body));
    const child = track(
      spawn('sh', ['-c', ULIMIT_WRAPPER, 'sh', ...pinnedCommand(cpus, binary, ['-p', prefix, '-c', conf, '-g', 'daemon off;']).flat()], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const proc = new NginxProcess(port, child);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await proc.stop();
        throw new Error(`nginx did not start: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return proc;
  }

  command(): Promise<ServerStats | null> {
    return Promise.resolve(null);
  }

  stop(): Promise<void> {
    return stopChild(this.child_, () => this.child_.kill('SIGQUIT'));
  }
}

function nginxConfig(prefix: string, port: number, certFile: string, keyFile: string, body: string): string {
  return `# Written by the rxtls bench harness; removed after the run.
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  client_header_timeout 300s;
  default_type text/plain;
  server {
    listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1;
    ssl_session_tickets on;
    location / { return 200 ${JSON.stringify(body)}; }
  }
}
`;
}
