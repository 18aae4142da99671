// The harness's moving parts: its settings, the progress line, starting a
// server for an engine, and one measured load run against it (with the
// server's CPU time from /proc sampled at the load's own window markers, or
// around a C load generator's whole run).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { DEFAULTS, runLoad, StatusLine, type LoadOptions, type LoadResult } from '@rxtls/bench';
import type { Transport } from '@rxtls/core';

import { SERVERS, serverEntry, type ScenarioId } from '../servers/table.js';
import type { HttpImpl, Protocol } from '../servers/types.js';
import type { Pinning } from './cpu-pinning.js';
import { cpuSeconds, rssBytes } from './proc.js';
import { HELLO_BODY } from './protocols.js';
import { NginxProcess, NodeServerProcess, type ServerStats, type ServerTarget } from './server-process.js';

/** `perf record` of a process (call graphs), until SIGINT. */
function startPerf(pid: number, file: string): ChildProcess {
  return spawn('perf', ['record', '-F', '997', '-g', '-p', String(pid), '-o', file], { stdio: 'ignore' });
}

/** An id of bench/servers/table.ts. */
export type EngineId = string;

export const ENGINE_LABEL: Readonly<Record<EngineId, string>> = Object.fromEntries(SERVERS.map((e) => [e.id, e.label]));

export interface Settings {
  quick: boolean;
  warmup: number;
  duration: number;
  bulkBytes: number;
  idleConnections: number;
  /** Rounds per engine in the rate scenarios (the median run is kept). */
  repeat: number;
  /** Engines to run (rxtls and node always; variants if present; tcp; nginx if installed). */
  engines: ReadonlySet<EngineId>;
  /** Where servers and load generators run. */
  pinning: Pinning;
  /** The C load generators (null: not installed) and their whole-second windows. */
  c: { wrk: string | null; openssl: string | null; warmup: number; seconds: number };
  nginx: string | null;
  tmp: string;
  certFile: string;
  keyFile: string;
  cpuProfDir?: string;
  /** Directory for `perf record` data of each measured window (needs perf). */
  perfDir?: string;
  /** Extra environment for server processes (the --cores stub sets UV_THREADPOOL_SIZE). */
  serverEnv: NodeJS.ProcessEnv;
  /** The rxtls transport of the JS load generator's TLS connections (native unless --client-transport js). */
  clientTransport: Transport;
}

/** Server-side figures of one measured window. */
export interface Window {
  /** Server CPU seconds (user + system, all threads) within the window. */
  cpuSec: number;
  /** Server stats at the end of the window (node servers). */
  stats: ServerStats | null;
}

/** One C load generator run and the server's window around it. */
export interface ClientMeasured<T> extends Window {
  value: T;
  /** Wall seconds of the window. */
  seconds: number;
}

/** One JS load generator run and the server's window within it. */
export interface Measured extends Window {
  result: LoadResult;
}

export class Progress {
  private readonly line_ = new StatusLine(process.stderr);
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
    // Off a terminal, one line per step rather than one per update.
    if (this.line_.tty || detail === 'starting') this.line_.show(text);
  }

  done(): void {
    this.line_.clear();
  }

  log(text: string): void {
    this.line_.log(text);
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

  /**
   * The engines a scenario runs, in table order: of `base` (the columns it
   * fills) those present, plus every variant that lists the scenario; each
   * must serve `protocol` (null: no application data, any server will do).
   */
  engines(scenario: ScenarioId, base: readonly EngineId[], protocol: Protocol | null): EngineId[] {
    return SERVERS.filter(
      (e) =>
        this.has(e.id) &&
        e.scenarios.includes(scenario) &&
        (e.column === 'variant' || base.includes(e.id)) &&
        (protocol === null || e.protocols.includes(protocol)),
    ).map((e) => e.id);
  }

  async startServer(engine: EngineId, protocol: Protocol, http: HttpImpl, profileName: string): Promise<ServerTarget> {
    const entry = serverEntry(engine);
    if (!entry.start) {
      if (!this.s.nginx) throw new Error('nginx is not installed');
      return NginxProcess.start(this.s.nginx, this.s.tmp, this.s.certFile, this.s.keyFile, HELLO_BODY, this.s.pinning.server);
    }
    return NodeServerProcess.start({
      engine,
      // A server that cannot serve the protocol serves its first one (handshake and idle scenarios send no data).
      protocol: entry.protocols.includes(protocol) ? protocol : entry.protocols[0]!,
      http,
      certFile: this.s.certFile,
      keyFile: this.s.keyFile,
      ...(this.s.cpuProfDir ? { cpuProfDir: this.s.cpuProfDir, profileName: `${profileName}-${engine}` } : {}),
      // JIT symbols for perf (a /tmp/perf-PID.map file).
      ...(this.s.perfDir ? { nodeFlags: ['--perf-basic-prof-only-functions'] } : {}),
      env: this.s.serverEnv,
      cpus: this.s.pinning.server,
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

  /** Starts a measured window: CPU sample, loop-delay reset, profilers. */
  private windowStart(server: ServerTarget, mode: string): () => Promise<Window> {
    const cpu0 = cpuSeconds(server.pid);
    void server.command('reset').catch(() => null);
    let profiling: Promise<unknown> | undefined;
    let perf: ChildProcess | undefined;
    if (this.s.cpuProfDir && server instanceof NodeServerProcess) profiling = server.command('profile-start').catch(() => null);
    if (this.s.perfDir) perf = startPerf(server.pid, join(this.s.perfDir, `${String(++this.perfRuns).padStart(2, '0')}-${server.label.replace(/\W+/g, '-')}-${mode}.perf.data`));
    this.progress.show('measuring');
    // Ends the window: CPU at once, then the stats and profiles it asked for.
    return async () => {
      const cpuSec = cpuSeconds(server.pid) - cpu0;
      const stats = server.command('stats').catch(() => null);
      if (profiling) profiling = profiling.then(() => server.command('profile-stop')).catch(() => null);
      perf?.kill('SIGINT');
      await profiling;
      if (perf && perf.exitCode === null) await new Promise((r) => perf!.once('exit', r));
      return { cpuSec, stats: await stats };
    };
  }

  /** One load run; the server's CPU is sampled at the load's measure-start and measure-end. */
  async measure(server: ServerTarget, load: Partial<LoadOptions> & Pick<LoadOptions, 'mode'>): Promise<Measured> {
    let end: (() => Promise<Window>) | undefined;
    let window: Promise<Window> | undefined;
    const result = await runLoad({
      ...DEFAULTS,
      warmup: this.s.warmup,
      duration: this.s.duration,
      host: '127.0.0.1',
      port: server.port,
      // The bench certificate is self-signed, made for the run.
      insecure: true,
      transport: this.s.clientTransport,
      ...load,
      onEvent: (e) => {
        if (e.event === 'measure-start') end = this.windowStart(server, load.mode);
        else if (e.event === 'measure-end') window = end?.();
        else if (e.event === 'progress' && e.phase === 'measuring') this.progress.show(`measuring ${e.elapsedSec.toFixed(0)}/${load.duration ?? this.s.duration} s`);
      },
    });
    const w = (await window) ?? { cpuSec: 0, stats: null };
    return { result, ...w };
  }

  /** A C load generator's run as the measured window: the server's CPU from just before it starts to just after it ends. */
  async measureClient<T>(server: ServerTarget, mode: string, run: () => Promise<T>): Promise<ClientMeasured<T>> {
    const started = performance.now();
    const end = this.windowStart(server, mode);
    const value = await run();
    const seconds = (performance.now() - started) / 1000;
    return { value, seconds, ...(await end()) };
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
      insecure: true,
      transport: this.s.clientTransport,
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
