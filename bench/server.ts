// One bench server in its own process:
//   node --import tsx bench/server.ts --engine ID --protocol echo|stream|http
//        (ID: a node server of bench/servers/table.ts)
//        --cert FILE --key FILE [--http node|minimal]
// Prints one JSON line {"ready":port,"pid":pid}, then answers commands on
// stdin, one JSON line each: `stats` (memory, loop delay, connections),
// `gc` (collect, then stats), `reset` (restart the loop-delay histogram and
// the handshake counts),
// `profile-start` / `profile-stop` (a V8 CPU profile of just the measured
// window, written to $BENCH_CPU_PROF_DIR).
// Exits when stdin ends.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import { parseCommandLine, UsageError } from '@rxtls/bench';

import { WindowProfiler } from './lib/window-profiler.js';
import { SERVERS } from './servers/table.js';
import { PROTOCOLS, type BenchServer, type HttpImpl, type Protocol } from './servers/types.js';

async function main(): Promise<void> {
  const { values: flags } = parseCommandLine({
    args: process.argv.slice(2),
    options: { engine: { type: 'string' }, protocol: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, http: { type: 'string' } },
  });
  const engine = flags.engine ?? '';
  const entry = SERVERS.find((e) => e.id === engine && e.start);
  if (!entry?.start) throw new UsageError(`--engine must be one of ${SERVERS.filter((e) => e.start).map((e) => e.id).join(', ')}`);
  const protocol = flags.protocol as Protocol;
  if (!PROTOCOLS.includes(protocol)) throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(', ')}`);
  const http = (flags.http ?? 'minimal') as HttpImpl;
  if (http !== 'node' && http !== 'minimal') throw new UsageError('--http must be node or minimal');
  if (!flags.cert || !flags.key) throw new UsageError('--cert and --key are required');
  const server: BenchServer = await entry.start({
    protocol,
    http,
    cert: readFileSync(flags.cert, 'utf8'),
    key: readFileSync(flags.key, 'utf8'),
  });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // Handshakes since the last `reset` (the start of a measured window).
  let since = { total: 0, resumed: 0 };
  const counted = () => server.handshakes?.() ?? null;
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
      ...(() => {
        const c = counted();
        return c ? { handshakes: c.total - since.total, resumed: c.resumed - since.resumed } : {};
      })(),
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
        since = { ...(counted() ?? since) };
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
