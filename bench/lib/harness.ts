// The harness's moving parts: its settings, the progress line, starting a
// server for an engine, and one measured load run against it (with the
// server's CPU time from /proc sampled at the load's own window markers).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import type { Engine } from '../server.js';
import type { HttpImpl, Protocol } from '../servers/types.js';
import { DEFAULTS, runLoad, type LoadOptions, type LoadResult } from './loadgen-core.js';
import { cpuSeconds, rssBytes } from './proc.js';
import { HELLO_BODY } from './protocols.js';
import { NginxProcess, NodeServerProcess, type ServerStats, type ServerTarget } from './server-process.js';

/** `perf record` of a process (call graphs), until SIGINT. */
function startPerf(pid: number, file: string): ChildProcess {
  return spawn('perf', ['record', '-F', '997', '-g', '-p', String(pid), '-o', file], { stdio: 'ignore' });
}

export type EngineId = Engine | 'nginx';

export const ENGINE_LABEL: Record<EngineId, string> = {
  rxtls: 'rxtls',
  offload: 'rxtls [offload]',
  rx: 'rxtls [rx]',
  node: 'node:tls',
  tcp: 'tcp',
  nginx: 'nginx',
};

export interface Settings {
  quick: boolean;
  warmup: number;
  duration: number;
  bulkBytes: number;
  idleConnections: number;
  /** Rounds per engine in the rate scenarios (the median run is kept). */
  repeat: number;
  /** Engines to run (rxtls and node always; rx if present; tcp; nginx if installed). */
  engines: ReadonlySet<EngineId>;
  nginx: string | null;
  tmp: string;
  certFile: string;
  keyFile: string;
  cpuProfDir?: string;
  /** Directory for `perf record` data of each measured window (needs perf). */
  perfDir?: string;
  /** Extra environment for server processes (the --cores stub sets UV_THREADPOOL_SIZE). */
  serverEnv: NodeJS.ProcessEnv;
}

export interface Measured {
  result: LoadResult;
  /** Server CPU seconds (user + system, all threads) within the load's measured window. */
  cpuSec: number;
  /** Server stats at the end of the window (node servers). */
  stats: ServerStats | null;
}

export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private step_ = 0;
  private total_ = 0;
  private label_ = '';
  private readonly started_ = Date.now();

  plan(total: number): void {
    this.total_ = total;
  }

  next(label: string): void {
    this.step_++;
    this.label_ = label;
    this.show('starting');
  }

  show(detail: string): void {
    const t = ((Date.now() - this.started_) / 1000).toFixed(0).padStart(3);
    const text = `[${t}s ${String(this.step_).padStart(2)}/${this.total_}] ${this.label_} · ${detail}`;
    if (this.tty) process.stderr.write(`\r\x1b[K${text}`);
    else if (detail === 'starting') process.stderr.write(text + '\n');
  }

  done(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }

  log(text: string): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(text + '\n');
  }
}

export class Harness {
  readonly s: Settings;
  readonly progress = new Progress();
  private perfRuns = 0;

  constructor(settings: Settings) {
    this.s = settings;
  }

  has(engine: EngineId): boolean {
    return this.s.engines.has(engine);
  }

  async startServer(engine: EngineId, protocol: Protocol, http: HttpImpl, profileName: string): Promise<ServerTarget> {
    if (engine === 'nginx') {
      if (!this.s.nginx) throw new Error('nginx is not installed');
      return NginxProcess.start(this.s.nginx, this.s.tmp, this.s.certFile, this.s.keyFile, HELLO_BODY);
    }
    return NodeServerProcess.start({
      engine,
      protocol,
      http,
      certFile: this.s.certFile,
      keyFile: this.s.keyFile,
      ...(this.s.cpuProfDir ? { cpuProfDir: this.s.cpuProfDir, profileName: `${profileName}-${engine}` } : {}),
      // JIT symbols for perf (a /tmp/perf-PID.map file).
      ...(this.s.perfDir ? { nodeFlags: ['--perf-basic-prof-only-functions'] } : {}),
      env: this.s.serverEnv,
    });
  }

  /** Starts a server, runs `fn` against it, always stops it. */
  async withServer<T>(
    engine: EngineId,
    protocol: Protocol,
    http: HttpImpl,
    profileName: string,
    fn: (server: ServerTarget) => Promise<T>,
  ): Promise<T> {
    const server = await this.startServer(engine, protocol, http, profileName);
    try {
      return await fn(server);
    } finally {
      await server.stop();
    }
  }

  /** One load run; the server's CPU is sampled at the load's measure-start and measure-end. */
  async measure(server: ServerTarget, load: Partial<LoadOptions> & Pick<LoadOptions, 'mode'>): Promise<Measured> {
    let cpu0 = 0;
    let cpu1 = 0;
    let stats: Promise<ServerStats | null> = Promise.resolve(null);
    let profiling: Promise<unknown> | undefined;
    let perf: ChildProcess | undefined;
    const result = await runLoad({
      ...DEFAULTS,
      warmup: this.s.warmup,
      duration: this.s.duration,
      host: '127.0.0.1',
      port: server.port,
      ...load,
      onEvent: (e) => {
        if (e.event === 'measure-start') {
          cpu0 = cpuSeconds(server.pid);
          void server.command('reset').catch(() => null);
          if (this.s.cpuProfDir && server instanceof NodeServerProcess) profiling = server.command('profile-start').catch(() => null);
          if (this.s.perfDir) perf = startPerf(server.pid, join(this.s.perfDir, `${String(++this.perfRuns).padStart(2, '0')}-${server.label.replace(/\W+/g, '-')}-${load.mode}.perf.data`));
          this.progress.show('measuring');
        } else if (e.event === 'measure-end') {
          cpu1 = cpuSeconds(server.pid);
          stats = server.command('stats').catch(() => null);
          if (profiling) profiling = profiling.then(() => server.command('profile-stop')).catch(() => null);
          perf?.kill('SIGINT');
        } else if (e.event === 'progress' && e.elapsedSec > 0) {
          this.progress.show(`measuring ${e.elapsedSec.toFixed(0)}/${load.duration ?? this.s.duration} s`);
        }
      },
    });
    await profiling;
    if (perf && perf.exitCode === null) await new Promise((r) => perf!.once('exit', r));
    return { result, cpuSec: cpu1 - cpu0, stats: await stats };
  }

  /**
   * Idle memory: RSS (from /proc) and JS heap (after gc) before and with
   * `connections` established idle connections, per connection.
   */
  async idleMemory(server: ServerTarget, connections: number, plain: boolean): Promise<{ rssPerConn: number; heapPerConn: number | null; established: number; errors: number }> {
    await new Promise((r) => setTimeout(r, 200));
    const before = await server.command('gc');
    const rss0 = rssBytes(server.pid);
    const abort = new AbortController();
    let after: ServerStats | null = null;
    let rss1 = 0;
    const result = await runLoad({
      ...DEFAULTS,
      host: '127.0.0.1',
      port: server.port,
      mode: 'hold',
      connections,
      warmup: 0,
      hold: 60,
      plain,
      signal: abort.signal,
      onEvent: (e) => {
        if (e.event !== 'established') return;
        this.progress.show(`${e.connections} established, measuring`);
        void (async () => {
          // Let the last handshakes' tickets and buffers settle before reading.
          await new Promise((r) => setTimeout(r, 300));
          after = await server.command('gc').catch(() => null);
          rss1 = rssBytes(server.pid);
          abort.abort();
        })();
      },
    });
    const n = Math.max(1, result.established);
    const heap = before && after ? ((after as ServerStats).heapUsed - before.heapUsed) / n : null;
    return { rssPerConn: (rss1 - rss0) / n, heapPerConn: heap, established: result.established, errors: result.errors };
  }
}
