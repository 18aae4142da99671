// The scenarios of the benchmark: each runs its engines one after the other
// (a fresh server process per engine) and turns the figures into table rows.
import { findDuplexAdapter } from '../servers/duplex.js';
import type { HttpImpl, Protocol } from '../servers/types.js';
import { ENGINE_LABEL, type EngineId, type Harness, type Measured } from './harness.js';
import type { LoadOptions } from './loadgen-core.js';
import { makeRow, round, type Row, type Target } from './report.js';
import { sessionSupport } from './session-support.js';

const MiB = 1024 * 1024;

export interface Scenario {
  id: string;
  title: string;
  /** Progress steps (server runs) this scenario will take. */
  steps(h: Harness): number;
  run(h: Harness): Promise<Row[]>;
}

interface Metric<T> {
  name: string;
  unit: string;
  higherIsBetter: boolean;
  get: (m: T) => number | null;
  target?: Target;
  note?: string;
}

type ByEngine<T> = Partial<Record<EngineId, T>>;

/**
 * Runs `fn` for each engine in order; with `repeatable`, `h.s.repeat` rounds
 * interleaved (rxtls, node, …, rxtls, node, …) so that a change in the
 * machine's background load hits every engine alike. Returns every run; the
 * rows take the median of each figure. A failing engine becomes a note.
 */
async function perEngine<T>(
  h: Harness,
  title: string,
  engines: readonly EngineId[],
  fn: (engine: EngineId) => Promise<T>,
  failures: string[],
  repeatable = true,
): Promise<ByEngine<T[]>> {
  const runs: ByEngine<T[]> = {};
  const rounds = repeatable ? h.s.repeat : 1;
  for (let round = 0; round < rounds; round++) {
    for (const engine of engines) {
      if (!h.has(engine)) continue;
      h.progress.next(`${title} · ${ENGINE_LABEL[engine]}${rounds > 1 ? ` (round ${round + 1}/${rounds})` : ''}`);
      try {
        (runs[engine] ??= []).push(await fn(engine));
      } catch (err) {
        const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        failures.push(`${ENGINE_LABEL[engine]} failed: ${msg}`);
        h.progress.log(`  ${title} · ${ENGINE_LABEL[engine]} failed: ${msg}`);
      }
    }
  }
  return runs;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Every run of every engine, flattened, for notes. */
function allRuns<T>(m: ByEngine<T[]>): Array<[EngineId, T]> {
  return (Object.entries(m) as [EngineId, T[]][]).flatMap(([e, list]) => list.map((x) => [e, x] as [EngineId, T]));
}

function rows<T>(
  metrics: readonly Metric<T>[],
  m: ByEngine<T[]>,
  columns: { nginx: boolean; tcp: boolean; rx: boolean; offload?: boolean },
  notes: string[],
): Row[] {
  const out: Row[] = [];
  // The median over the engine's rounds, each figure on its own.
  const get = (metric: Metric<T>, e: EngineId) => {
    const values = (m[e] ?? []).map(metric.get).filter((x): x is number => x !== null && Number.isFinite(x));
    const x = median(values);
    return x === null ? null : round(x, 3);
  };
  for (const [i, metric] of metrics.entries()) {
    const base = { name: metric.name, unit: metric.unit, higherIsBetter: metric.higherIsBetter };
    // The scenario's own notes go on its first row only.
    const note = [...new Set([metric.note, ...(i === 0 ? notes : [])])].filter(Boolean).join('; ') || undefined;
    out.push(
      makeRow(
        base,
        {
          rxtls: get(metric, 'rxtls'),
          node: get(metric, 'node'),
          ...(columns.nginx ? { openssl: get(metric, 'nginx') } : {}),
          ...(columns.tcp ? { tcp: get(metric, 'tcp') } : {}),
        },
        metric.target,
        note,
      ),
    );
  }
  // Variants of rxtls, each compared with node:tls: rows marked [offload] and [rx].
  const variants: EngineId[] = [];
  if (columns.offload && m.offload !== undefined) variants.push('offload');
  if (columns.rx && m.rx !== undefined) variants.push('rx');
  for (const variant of variants) {
    for (const metric of metrics) {
      out.push(
        makeRow(
          { name: `${metric.name} [${variant}]`, unit: metric.unit, higherIsBetter: metric.higherIsBetter },
          { rxtls: get(metric, variant), node: get(metric, 'node') },
          metric.target,
        ),
      );
    }
  }
  return out;
}

/** Errors a load run saw, and a TLS version or group other than the scenario asked for. */
function checkNotes(runs: Array<[EngineId, Measured]>, notes: string[]): void {
  for (const [engine, x] of runs) {
    const r = x.result;
    if (r.errors > 0) notes.push(`${ENGINE_LABEL[engine]}: ${r.errors} client errors (first: ${r.firstError})`);
    if (r.tls && (r.tls.protocol !== 'TLSv1.3' || (r.tls.group !== null && r.tls.group.toLowerCase() !== 'x25519')))
      notes.push(`${ENGINE_LABEL[engine]} negotiated ${r.tls.protocol} ${r.tls.group}`);
  }
}

const perCpu = (count: number, m: Measured) => (m.cpuSec > 0 ? count / m.cpuSec : null);

async function measureOn(
  h: Harness,
  engine: EngineId,
  protocol: Protocol,
  http: HttpImpl,
  name: string,
  load: Partial<LoadOptions> & Pick<LoadOptions, 'mode'>,
): Promise<Measured> {
  return h.withServer(engine, protocol, http, name, (server) =>
    h.measure(server, { ...load, plain: engine === 'tcp' }),
  );
}

export const handshakes: Scenario = {
  id: 'handshake',
  title: 'full handshakes',
  steps: (h) => h.s.repeat * ['rxtls', 'offload', 'rx', 'node', 'nginx'].filter((e) => h.has(e as EngineId)).length,
  async run(h) {
    const notes: string[] = [];
    const m = await perEngine(
      h,
      this.title,
      ['rxtls', 'offload', 'rx', 'node', 'nginx'],
      (e) => measureOn(h, e, 'echo', 'minimal', 'handshake', { mode: 'handshake', connections: 50 }),
      notes,
    );
    checkNotes(allRuns(m), notes);
    return rows<Measured>(
      [
        { name: 'full handshakes/s (50 in flight)', unit: 'hs/s', higherIsBetter: true, get: (x) => x.result.handshakesPerSec, target: { ratio: 1.2 } },
        { name: 'full handshakes per server CPU-s', unit: 'hs/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.result.handshakes, x), target: { ratio: 1.5 } },
        {
          name: 'handshake flood: worst loop delay',
          unit: 'ms',
          higherIsBetter: false,
          get: (x) => x.stats?.loopDelayMaxMs ?? null,
          target: { absolute: 10 },
          note: h.has('offload')
            ? 'the <10 ms target is for the [offload] row (handshakeOffload: steps on the libuv pool)'
            : 'the <10 ms target is for the thread-pool handshake option, which this @rxtls/core does not have',
        },
        { name: 'handshake flood: loop delay p99', unit: 'ms', higherIsBetter: false, get: (x) => x.stats?.loopDelayP99Ms ?? null },
      ],
      m,
      { nginx: true, tcp: false, rx: true, offload: true },
      notes,
    );
  },
};

export const resumed: Scenario = {
  id: 'resume',
  title: 'resumed handshakes',
  steps: (h) => (sessionSupport().available ? h.s.repeat * ['rxtls', 'node', 'nginx'].filter((e) => h.has(e as EngineId)).length : 0),
  async run(h) {
    const base = { name: 'resumed handshakes per server CPU-s', unit: 'hs/CPU-s', higherIsBetter: true };
    if (!sessionSupport().available) {
      const note = 'not yet available: @rxtls/core has no client-side session reuse, so the rxtls load generator cannot offer tickets';
      return [
        makeRow({ ...base, name: 'resumed handshakes/s (50 in flight)', unit: 'hs/s' }, { rxtls: null, node: null }, { ratio: 1.3 }, note),
        makeRow(base, { rxtls: null, node: null }, { ratio: 1.3 }, note),
      ];
    }
    const notes: string[] = [];
    const m = await perEngine(
      h,
      this.title,
      ['rxtls', 'node', 'nginx'],
      (e) => measureOn(h, e, 'echo', 'minimal', 'resume', { mode: 'handshake', connections: 50, resume: true }),
      notes,
    );
    checkNotes(allRuns(m), notes);
    for (const [engine, x] of allRuns(m)) {
      const share = x.result.handshakes ? x.result.resumed / x.result.handshakes : 0;
      if (share < 0.95) notes.push(`${ENGINE_LABEL[engine]}: only ${(share * 100).toFixed(0)} % resumed`);
    }
    return rows<Measured>(
      [
        { name: 'resumed handshakes/s (50 in flight)', unit: 'hs/s', higherIsBetter: true, get: (x) => x.result.handshakesPerSec },
        { ...base, get: (x) => perCpu(x.result.handshakes, x), target: { ratio: 1.3 } },
      ],
      m,
      { nginx: true, tcp: false, rx: false },
      notes,
    );
  },
};

interface Bulk {
  up: Measured;
  down: Measured;
}

export const bulk: Scenario = {
  id: 'bulk',
  title: 'bulk throughput',
  steps: (h) => h.s.repeat * ['rxtls', 'node', 'tcp'].filter((e) => h.has(e as EngineId)).length,
  async run(h) {
    const notes: string[] = [];
    const size = h.s.bulkBytes;
    const m = await perEngine(
      h,
      `${this.title} ${size / MiB} MiB each way`,
      ['rxtls', 'node', 'tcp'],
      (e) =>
        h.withServer(e, 'stream', 'minimal', 'bulk', async (server) => ({
          up: await h.measure(server, { mode: 'upload', size, plain: e === 'tcp', warmup: 1 }),
          down: await h.measure(server, { mode: 'download', size, plain: e === 'tcp', warmup: 1 }),
        })),
      notes,
    );
    checkNotes(allRuns(m).map(([e, x]) => [e, x.up]), notes);
    checkNotes(allRuns(m).map(([e, x]) => [e, x.down]), notes);
    const mibs = (bytes: number, x: Measured) => bytes / MiB / x.result.seconds;
    const out = rows<Bulk>(
      [
        { name: 'bulk client->server MiB/s', unit: 'MiB/s', higherIsBetter: true, get: (x) => mibs(x.up.result.bytesSent, x.up), target: { ratio: 1.0 } },
        { name: 'bulk client->server MiB per server CPU-s', unit: 'MiB/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.up.result.bytesSent / MiB, x.up), target: { ratio: 1.15 } },
        { name: 'bulk server->client MiB/s', unit: 'MiB/s', higherIsBetter: true, get: (x) => mibs(x.down.result.bytesReceived, x.down), target: { ratio: 1.0 } },
        { name: 'bulk server->client MiB per server CPU-s', unit: 'MiB/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.down.result.bytesReceived / MiB, x.down), target: { ratio: 1.15 } },
      ],
      m,
      { nginx: false, tcp: true, rx: false },
      notes,
    );
    // The second bulk target: rxtls at >= 0.9x plain TCP.
    for (const r of out) {
      if (r.unit === 'MiB/s' && r.rxtls !== null && r.tcp) {
        const vsTcp = r.rxtls / r.tcp;
        r.note = [r.note, `rxtls/tcp ${vsTcp.toFixed(2)}x (target >= 0.9x: ${vsTcp >= 0.9 ? 'met' : 'NOT met'})`].filter(Boolean).join('; ');
      }
    }
    return out;
  },
};

export const smallMessages: Scenario = {
  id: 'small',
  title: 'small messages',
  steps: (h) => h.s.repeat * ['rxtls', 'rx', 'node', 'tcp'].filter((e) => h.has(e as EngineId)).length,
  async run(h) {
    const notes: string[] = [];
    const m = await perEngine(
      h,
      `${this.title} 64 B x 100 connections`,
      ['rxtls', 'rx', 'node', 'tcp'],
      (e) => measureOn(h, e, 'echo', 'minimal', 'small', { mode: 'echo', size: 64, connections: 100 }),
      notes,
    );
    checkNotes(allRuns(m), notes);
    return rows<Measured>(
      [
        { name: '64-byte messages/s (100 conns)', unit: 'msg/s', higherIsBetter: true, get: (x) => x.result.requestsPerSec, target: { ratio: 1.3 } },
        { name: '64-byte messages per server CPU-s', unit: 'msg/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.result.requests, x) },
        { name: '64-byte latency p50', unit: 'ms', higherIsBetter: false, get: (x) => x.result.latency.p50 },
        { name: '64-byte latency p99', unit: 'ms', higherIsBetter: false, get: (x) => x.result.latency.p99, target: { ratio: 0.8 } },
      ],
      m,
      { nginx: false, tcp: true, rx: true },
      notes,
    );
  },
};

interface Idle {
  rssPerConn: number;
  heapPerConn: number | null;
  established: number;
  errors: number;
}

export const idleMemory: Scenario = {
  id: 'memory',
  title: 'idle memory',
  steps: (h) => ['rxtls', 'rx', 'node', 'tcp', 'nginx'].filter((e) => h.has(e as EngineId)).length,
  async run(h) {
    const notes: string[] = [];
    const n = h.s.idleConnections;
    const m = await perEngine(
      h,
      `${this.title} at ${n} connections`,
      ['rxtls', 'rx', 'node', 'tcp', 'nginx'],
      (e) => h.withServer(e, 'echo', 'minimal', 'memory', (server) => h.idleMemory(server, n, e === 'tcp')),
      notes,
      false,
    );
    for (const [engine, x] of allRuns(m)) {
      if (x.established < n) notes.push(`${ENGINE_LABEL[engine]}: ${x.established} of ${n} established`);
    }
    return rows<Idle>(
      [
        { name: `idle RSS per connection (${n} conns)`, unit: 'KiB', higherIsBetter: false, get: (x) => x.rssPerConn / 1024, target: { ratio: 0.35 } },
        { name: `idle JS heap per connection (${n} conns)`, unit: 'KiB', higherIsBetter: false, get: (x) => (x.heapPerConn === null ? null : x.heapPerConn / 1024) },
      ],
      m,
      { nginx: true, tcp: true, rx: true },
      notes,
    );
  },
};

interface Https {
  keep: Measured;
  fresh: Measured;
}

async function httpsVariant(h: Harness, impl: HttpImpl, label: string, withNginx: boolean): Promise<Row[]> {
  const notes: string[] = [];
  const engines: EngineId[] = withNginx ? ['rxtls', 'node', 'tcp', 'nginx'] : ['rxtls', 'node', 'tcp'];
  const m = await perEngine(
    h,
    `HTTPS ${label}`,
    engines,
    (e) =>
      h.withServer(e, 'http', impl, `https-${impl}`, async (server) => ({
        // node:http is a lot of JavaScript to compile: warm it for at least a second.
        keep: await h.measure(server, { mode: 'http', connections: 50, plain: e === 'tcp', warmup: Math.max(1, h.s.warmup) }),
        fresh: await h.measure(server, { mode: 'http', connections: 50, newConnection: true, plain: e === 'tcp' }),
      })),
    notes,
  );
  for (const [engine, x] of allRuns(m)) {
    checkNotes([[engine, x.keep]], notes);
    if (x.fresh.result.errors) notes.push(`${ENGINE_LABEL[engine]} new-connection: ${x.fresh.result.errors} errors (first: ${x.fresh.result.firstError})`);
  }
  return rows<Https>(
    [
      { name: `HTTPS ${label} keep-alive req/s`, unit: 'req/s', higherIsBetter: true, get: (x) => x.keep.result.requestsPerSec, target: { ratio: 1.2 } },
      { name: `HTTPS ${label} keep-alive req per server CPU-s`, unit: 'req/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.keep.result.requests, x.keep) },
      { name: `HTTPS ${label} new conn req/s`, unit: 'req/s', higherIsBetter: true, get: (x) => x.fresh.result.requestsPerSec, target: { ratio: 1.4 } },
      { name: `HTTPS ${label} new conn req per server CPU-s`, unit: 'req/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.fresh.result.requests, x.fresh) },
    ],
    m,
    { nginx: withNginx, tcp: true, rx: false },
    notes,
  );
}

export const https: Scenario = {
  id: 'https',
  title: 'HTTPS',
  steps: (h) => h.s.repeat * ((h.s.quick ? 4 : 7) - (h.has('nginx') ? 0 : 1)),
  async run(h) {
    const adapter = await findDuplexAdapter();
    const out: Row[] = [];
    if (adapter) {
      out.push(...(await httpsVariant(h, 'node', 'node:http', true)));
      if (!h.s.quick) out.push(...(await httpsVariant(h, 'minimal', 'minimal', false)));
    } else {
      const rowsMinimal = await httpsVariant(h, 'minimal', 'minimal', true);
      for (const r of rowsMinimal)
        r.note = [r.note, 'no stream.Duplex adapter in @rxtls/core yet: both engines run the minimal HTTP/1.1 responder'].filter(Boolean).join('; ');
      out.push(...rowsMinimal);
    }
    return out;
  },
};

export const SCENARIOS: readonly Scenario[] = [handshakes, resumed, bulk, smallMessages, idleMemory, https];
