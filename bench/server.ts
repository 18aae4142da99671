// One bench server in its own process:
//   node --import tsx bench/server.ts --engine rxtls|rx|node|tcp --protocol echo|stream|http
//        --cert FILE --key FILE [--http node|minimal]
// Prints one JSON line {"ready":port,"pid":pid}, then answers commands on
// stdin, one JSON line each: `stats` (memory, loop delay, connections),
// `gc` (collect, then stats), `reset` (restart the loop-delay histogram),
// `profile-start` / `profile-stop` (a V8 CPU profile of just the measured
// window, written to $BENCH_CPU_PROF_DIR).
// Exits when stdin ends.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import { parseFlags, UsageError } from './lib/args.js';
import { WindowProfiler } from './lib/window-profiler.js';
import { PROTOCOLS, type BenchServer, type HttpImpl, type Protocol, type StartServer } from './servers/types.js';

/** `offload`: the rxtls server with `handshakeOffload` (handshake steps on libuv's pool). */
export const ENGINES = ['rxtls', 'offload', 'rx', 'node', 'tcp'] as const;
export type Engine = (typeof ENGINES)[number];

async function loadEngine(engine: Engine): Promise<StartServer> {
  switch (engine) {
    case 'rxtls':
      return (await import('./servers/rxtls.js')).start;
    case 'offload': {
      const { start } = await import('./servers/rxtls.js');
      return (setup) => start({ ...setup, offload: true });
    }
    case 'rx':
      return (await import('./servers/rx.js')).start;
    case 'node':
      return (await import('./servers/node.js')).start;
    case 'tcp':
      return (await import('./servers/tcp.js')).start;
  }
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), {
    engine: 'string',
    protocol: 'string',
    cert: 'string',
    key: 'string',
    http: 'string',
  });
  const engine = flags.engine as Engine;
  if (!ENGINES.includes(engine)) throw new UsageError(`--engine must be one of ${ENGINES.join(', ')}`);
  const protocol = flags.protocol as Protocol;
  if (!PROTOCOLS.includes(protocol)) throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(', ')}`);
  const http = (flags.http ?? 'minimal') as HttpImpl;
  if (http !== 'node' && http !== 'minimal') throw new UsageError('--http must be node or minimal');
  if (!flags.cert || !flags.key) throw new UsageError('--cert and --key are required');
  const start = await loadEngine(engine);
  const server: BenchServer = await start({
    protocol,
    http,
    cert: readFileSync(flags.cert, 'utf8'),
    key: readFileSync(flags.key, 'utf8'),
  });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const stats = () => {
    const m = process.memoryUsage();
    return {
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      connections: server.connections(),
      // Nanoseconds to milliseconds; the histogram reports NaN-free zeros when empty.
      loopDelayMaxMs: loop.max / 1e6,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
    };
  };
  const profiler = new WindowProfiler(process.env['BENCH_CPU_PROF_DIR'], process.env['BENCH_CPU_PROF_NAME'] ?? `${engine}-${protocol}`);
  const reply = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  reply({ ready: server.port, pid: process.pid });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    switch (line.trim()) {
      case 'gc':
        // Twice: the first pass may only queue finalizers of native objects.
        globalThis.gc?.();
        globalThis.gc?.();
        reply(stats());
        break;
      case 'stats':
        reply(stats());
        break;
      case 'reset':
        loop.reset();
        reply({ ok: true });
        break;
      case 'profile-start':
        void profiler.start().then(() => reply({ ok: true }), (err: Error) => reply({ error: err.message }));
        break;
      case 'profile-stop':
        void profiler.stop().then(() => reply({ ok: true }), (err: Error) => reply({ error: err.message }));
        break;
      default:
        reply({ error: `unknown command ${JSON.stringify(line)}` });
    }
  });
  rl.on('close', () => {
    loop.disable();
    void server.close().finally(() => process.exit(0));
    // Lingering connections must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
