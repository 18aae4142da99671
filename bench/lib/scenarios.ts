// The scenarios of the benchmark: each runs its engines one after the other
// (a fresh server process per engine) and turns the figures into table rows.
import { sessionSupport, type LoadOptions } from '@rxtls/bench';

import { findDuplexAdapter } from '../servers/duplex.js';
import { SERVERS, serverEntry, type ScenarioId } from '../servers/table.js';
import type { HttpImpl, Protocol } from '../servers/types.js';
import { startCluster } from './cluster-process.js';
import { parseWrk, runClient, runSTimeGroup, sTimeArgs, wrkArgs, type STimeGroup, type WrkResult } from './c-clients.js';
import { ENGINE_LABEL, type ClientMeasured, type EngineId, type Harness, type Measured, type Window } from './harness.js';
import { makeRow, round, type Row, type Target } from './report.js';

const MiB = 1024 * 1024;

export interface Scenario {
  id: ScenarioId;
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
  columns: { nginx: boolean; tcp: boolean },
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
  // Variants of rxtls (bench/servers/table.ts), each compared with node:tls (and nginx, tcp where they ran): rows marked [suffix].
  for (const variant of SERVERS.filter((e) => e.column === 'variant' && m[e.id] !== undefined)) {
    for (const metric of metrics) {
      const target = variant.untargeted ? undefined : variant.targetVsRxtls !== undefined ? { base: variant.targetVsRxtls } : metric.target;
      out.push(
        makeRow(
          { name: `${metric.name} [${variant.suffix ?? variant.id}]`, unit: metric.unit, higherIsBetter: metric.higherIsBetter },
          {
            rxtls: get(metric, variant.id),
            node: get(metric, 'node'),
            ...(columns.nginx ? { openssl: get(metric, 'nginx') } : {}),
            ...(columns.tcp ? { tcp: get(metric, 'tcp') } : {}),
            ...(variant.targetVsRxtls !== undefined ? { base: get(metric, 'rxtls') } : {}),
          },
          target,
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

/** "rxtls 48 %, node:tls 51 %": the share of the window's handshakes that resumed, as each server counted them. */
function resumedShares<T>(m: ByEngine<T[]>, pick: (x: T) => Window): string | null {
  const parts: string[] = [];
  for (const [engine, list] of Object.entries(m) as [EngineId, T[]][]) {
    let total = 0;
    let resumed = 0;
    for (const x of list) {
      const st = pick(x).stats;
      if (st?.handshakes === undefined) continue;
      total += st.handshakes;
      resumed += st.resumed ?? 0;
    }
    if (total > 0) parts.push(`${ENGINE_LABEL[engine]} ${Math.round((resumed / total) * 100)} %`);
  }
  return parts.length ? parts.join(', ') : null;
}

const perCpu = (count: number, w: Window) => (w.cpuSec > 0 ? count / w.cpuSec : null);

async function measureOn(
  h: Harness,
  engine: EngineId,
  protocol: Protocol,
  http: HttpImpl,
  name: string,
  load: Partial<LoadOptions> & Pick<LoadOptions, 'mode'>,
): Promise<Measured> {
  return h.withServer(engine, protocol, http, name, (server) =>
    h.measure(server, { ...load, plain: !serverEntry(engine).tls }),
  );
}

/** Runs of a scenario: its engines (see Harness.engines) and how many progress steps they take. */
function plan(h: Harness, id: ScenarioId, base: readonly EngineId[], protocol: Protocol | null, repeatable = true): { engines: EngineId[]; steps: number } {
  const engines = h.engines(id, base, protocol);
  return { engines, steps: engines.length * (repeatable ? h.s.repeat : 1) };
}

const HANDSHAKE_BASE: readonly EngineId[] = ['rxtls', 'node', 'nginx'];

export const handshakes: Scenario = {
  id: 'handshake',
  title: 'full handshakes',
  steps: (h) => plan(h, 'handshake', HANDSHAKE_BASE, null).steps,
  async run(h) {
    const notes: string[] = [];
    const m = await perEngine(
      h,
      this.title,
      plan(h, this.id, HANDSHAKE_BASE, null).engines,
      (e) => measureOn(h, e, 'echo', 'minimal', 'handshake', { mode: 'handshake', connections: 50 }),
      notes,
    );
    checkNotes(allRuns(m), notes);
    return rows<Measured>(
      [
        { name: 'full handshakes/s (50 in flight)', unit: 'hs/s', higherIsBetter: true, get: (x) => x.result.handshakesPerSec },
        { name: 'full handshakes per server CPU-s', unit: 'hs/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.result.handshakes, x) },
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
      { nginx: true, tcp: false },
      notes,
    );
  },
};

const RESUME_BASE: readonly EngineId[] = ['rxtls', 'node', 'nginx'];

export const resumed: Scenario = {
  id: 'resume',
  title: 'resumed handshakes',
  steps: (h) => (sessionSupport(h.s.clientTransport).available ? plan(h, 'resume', RESUME_BASE, null).steps : 0),
  async run(h) {
    const base = { name: 'resumed handshakes per server CPU-s', unit: 'hs/CPU-s', higherIsBetter: true };
    if (!sessionSupport(h.s.clientTransport).available) {
      const note = 'not yet available: @rxtls/core has no client-side session reuse, so the rxtls load generator cannot offer tickets';
      return [
        makeRow({ ...base, name: 'resumed handshakes/s (50 in flight)', unit: 'hs/s' }, { rxtls: null, node: null }, undefined, note),
        makeRow(base, { rxtls: null, node: null }, undefined, note),
      ];
    }
    const notes: string[] = [];
    const m = await perEngine(
      h,
      this.title,
      plan(h, this.id, RESUME_BASE, null).engines,
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
        { ...base, get: (x) => perCpu(x.result.handshakes, x) },
      ],
      m,
      { nginx: true, tcp: false },
      notes,
    );
  },
};

interface STimeRuns {
  full: ClientMeasured<STimeGroup>;
  resumed: ClientMeasured<STimeGroup>;
}

/** openssl s_time processes at once (the issue's "4 in parallel"). */
const S_TIME_PARALLEL = 4;

export const sTime: Scenario = {
  id: 'stime',
  title: 'handshakes (openssl s_time)',
  steps: (h) => (h.s.c.openssl ? plan(h, 'stime', HANDSHAKE_BASE, 'http').steps : 0),
  async run(h) {
    const names = ['full handshakes/s (s_time)', 'full handshakes per server CPU-s (s_time)', 'resumed handshakes/s (s_time)', 'resumed handshakes per server CPU-s (s_time)'];
    const openssl = h.s.c.openssl;
    if (!openssl) {
      return names.map((name) => makeRow({ name, unit: name.includes('CPU') ? 'hs/CPU-s' : 'hs/s', higherIsBetter: true }, { rxtls: null, node: null }, undefined, 'openssl is not installed'));
    }
    const notes: string[] = [];
    const { warmup, seconds } = h.s.c;
    const cpus = h.s.pinning.client;
    const m = await perEngine(
      h,
      `${this.title}, ${S_TIME_PARALLEL} in parallel`,
      plan(h, this.id, HANDSHAKE_BASE, 'http').engines,
      // The HTTP responder: -reuse sends a GET to read the TLS 1.3 ticket (see c-clients.ts).
      (e) =>
        h.withServer(e, 'http', 'minimal', 'stime', async (server) => {
          if (warmup > 0) {
            await Promise.all(
              Array.from({ length: S_TIME_PARALLEL }, () => runClient(openssl, sTimeArgs(server.port, 'new', 60), cpus, warmup * 1000 + 10_000, warmup * 1000)),
            );
          }
          return {
            full: await h.measureClient(server, 's_time-new', () => runSTimeGroup(openssl, server.port, 'new', seconds, S_TIME_PARALLEL, cpus)),
            resumed: await h.measureClient(server, 's_time-reuse', () => runSTimeGroup(openssl, server.port, 'reuse', seconds, S_TIME_PARALLEL, cpus)),
          };
        }),
      notes,
    );
    for (const [engine, x] of allRuns(m)) {
      const share = x.resumed.value.connections ? x.resumed.value.resumed / x.resumed.value.connections : 0;
      if (share < 0.95) notes.push(`${ENGINE_LABEL[engine]}: only ${(share * 100).toFixed(0)} % of s_time -reuse connections resumed`);
      if (x.full.value.resumed > 0) notes.push(`${ENGINE_LABEL[engine]}: ${x.full.value.resumed} s_time -new connections resumed`);
    }
    const shares = resumedShares(m, (x) => x.resumed);
    const resumedNote = shares ? `-reuse handshakes the servers counted as resumed: ${shares}` : undefined;
    const rate = (g: ClientMeasured<STimeGroup>) => g.value.connections / g.seconds;
    return rows<STimeRuns>(
      [
        { name: names[0]!, unit: 'hs/s', higherIsBetter: true, get: (x) => rate(x.full) },
        { name: names[1]!, unit: 'hs/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.full.value.connections, x.full), target: { ratio: 1.5, nginx: 1.0 } },
        { name: names[2]!, unit: 'hs/s', higherIsBetter: true, get: (x) => rate(x.resumed), ...(resumedNote ? { note: resumedNote } : {}) },
        { name: names[3]!, unit: 'hs/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.resumed.value.connections, x.resumed), target: { ratio: 1.5 } },
      ],
      m,
      { nginx: true, tcp: false },
      notes,
    );
  },
};

interface Bulk {
  up: Measured;
  down: Measured;
}

const BULK_BASE: readonly EngineId[] = ['rxtls', 'node', 'tcp'];

export const bulk: Scenario = {
  id: 'bulk',
  title: 'bulk throughput',
  steps: (h) => plan(h, 'bulk', BULK_BASE, 'stream').steps,
  async run(h) {
    const notes: string[] = [];
    const size = h.s.bulkBytes;
    const m = await perEngine(
      h,
      `${this.title} ${size / MiB} MiB each way`,
      plan(h, this.id, BULK_BASE, 'stream').engines,
      (e) =>
        h.withServer(e, 'stream', 'minimal', 'bulk', async (server) => ({
          up: await h.measure(server, { mode: 'upload', size, plain: !serverEntry(e).tls, warmup: 1 }),
          down: await h.measure(server, { mode: 'download', size, plain: !serverEntry(e).tls, warmup: 1 }),
        })),
      notes,
    );
    checkNotes(allRuns(m).map(([e, x]) => [e, x.up]), notes);
    checkNotes(allRuns(m).map(([e, x]) => [e, x.down]), notes);
    const mibs = (bytes: number, x: Measured) => bytes / MiB / x.result.seconds;
    return rows<Bulk>(
      [
        { name: 'bulk client->server MiB/s', unit: 'MiB/s', higherIsBetter: true, get: (x) => mibs(x.up.result.bytesSent, x.up), target: { ratio: 1.0 } },
        { name: 'bulk client->server MiB per server CPU-s', unit: 'MiB/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.up.result.bytesSent / MiB, x.up), target: { ratio: 1.3 } },
        { name: 'bulk server->client MiB/s', unit: 'MiB/s', higherIsBetter: true, get: (x) => mibs(x.down.result.bytesReceived, x.down), target: { ratio: 1.0 } },
        { name: 'bulk server->client MiB per server CPU-s', unit: 'MiB/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.down.result.bytesReceived / MiB, x.down), target: { ratio: 1.3 } },
      ],
      m,
      { nginx: false, tcp: true },
      notes,
    );
  },
};

const SMALL_BASE: readonly EngineId[] = ['rxtls', 'node', 'tcp'];

export const smallMessages: Scenario = {
  id: 'small',
  title: 'small messages',
  steps: (h) => plan(h, 'small', SMALL_BASE, 'echo').steps,
  async run(h) {
    const notes: string[] = [];
    const m = await perEngine(
      h,
      `${this.title} 64 B x 100 connections`,
      plan(h, this.id, SMALL_BASE, 'echo').engines,
      (e) => measureOn(h, e, 'echo', 'minimal', 'small', { mode: 'echo', size: 64, connections: 100 }),
      notes,
    );
    checkNotes(allRuns(m), notes);
    return rows<Measured>(
      [
        { name: '64-byte messages/s (100 conns)', unit: 'msg/s', higherIsBetter: true, get: (x) => x.result.requestsPerSec, target: { ratio: 1.8, tcp: 0.8 } },
        { name: '64-byte messages per server CPU-s', unit: 'msg/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.result.requests, x) },
        { name: '64-byte latency p50', unit: 'ms', higherIsBetter: false, get: (x) => x.result.latency.p50 },
        { name: '64-byte latency p99', unit: 'ms', higherIsBetter: false, get: (x) => x.result.latency.p99, target: { ratio: 0.6 } },
      ],
      m,
      { nginx: false, tcp: true },
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

const MEMORY_BASE: readonly EngineId[] = ['rxtls', 'node', 'tcp', 'nginx'];

export const idleMemory: Scenario = {
  id: 'memory',
  title: 'idle memory',
  steps: (h) => plan(h, 'memory', MEMORY_BASE, null, false).steps,
  async run(h) {
    const notes: string[] = [];
    const n = h.s.idleConnections;
    const m = await perEngine(
      h,
      `${this.title} at ${n} connections`,
      plan(h, this.id, MEMORY_BASE, null, false).engines,
      (e) => h.withServer(e, 'echo', 'minimal', 'memory', (server) => h.idleMemory(server, n, !serverEntry(e).tls)),
      notes,
      false,
    );
    for (const [engine, x] of allRuns(m)) {
      if (x.established < n) notes.push(`${ENGINE_LABEL[engine]}: ${x.established} of ${n} established`);
    }
    return rows<Idle>(
      [
        { name: `idle RSS per connection (${n} conns)`, unit: 'KiB', higherIsBetter: false, get: (x) => x.rssPerConn / 1024, target: { ratio: 0.45 } },
        { name: `idle JS heap per connection (${n} conns)`, unit: 'KiB', higherIsBetter: false, get: (x) => (x.heapPerConn === null ? null : x.heapPerConn / 1024) },
      ],
      m,
      { nginx: true, tcp: true },
      notes,
    );
  },
};

interface Https {
  keep: Measured;
  fresh: Measured;
}

const HTTPS_BASE: readonly EngineId[] = ['rxtls', 'node', 'tcp', 'nginx'];

async function httpsVariant(h: Harness, impl: HttpImpl, label: string, withNginx: boolean): Promise<Row[]> {
  const notes: string[] = [];
  const engines = plan(h, 'https', HTTPS_BASE, 'http').engines.filter((e) => withNginx || e !== 'nginx');
  if (!engines.includes('rxtls') && engines.includes('js'))
    notes.push('the rxtls column is empty here: node:http does not run over a native connection yet (no TlsDuplex for it); the [js] rows are node:http over TlsDuplex on the JS transport');
  const m = await perEngine(
    h,
    `HTTPS ${label}`,
    engines,
    (e) =>
      h.withServer(e, 'http', impl, `https-${impl}`, async (server) => ({
        // node:http is a lot of JavaScript to compile: warm it for at least a second.
        keep: await h.measure(server, { mode: 'http', connections: 50, plain: !serverEntry(e).tls, warmup: Math.max(1, h.s.warmup) }),
        fresh: await h.measure(server, { mode: 'http', connections: 50, newConnection: true, plain: !serverEntry(e).tls }),
      })),
    notes,
  );
  for (const [engine, x] of allRuns(m)) {
    checkNotes([[engine, x.keep]], notes);
    if (x.fresh.result.errors) notes.push(`${ENGINE_LABEL[engine]} new-connection: ${x.fresh.result.errors} errors (first: ${x.fresh.result.firstError})`);
  }
  // The issue's targets are for node:http over TlsDuplex against node:https, per server CPU-s.
  const target = impl === 'node' ? { ratio: 1.0 } : undefined;
  return rows<Https>(
    [
      { name: `HTTPS ${label} keep-alive req/s`, unit: 'req/s', higherIsBetter: true, get: (x) => x.keep.result.requestsPerSec },
      { name: `HTTPS ${label} keep-alive req per server CPU-s`, unit: 'req/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.keep.result.requests, x.keep), ...(target ? { target } : {}) },
      { name: `HTTPS ${label} new conn req/s`, unit: 'req/s', higherIsBetter: true, get: (x) => x.fresh.result.requestsPerSec },
      { name: `HTTPS ${label} new conn req per server CPU-s`, unit: 'req/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.fresh.result.requests, x.fresh), ...(target ? { target } : {}) },
    ],
    m,
    { nginx: withNginx, tcp: true },
    notes,
  );
}

export const https: Scenario = {
  id: 'https',
  title: 'HTTPS',
  steps: (h) => {
    const n = plan(h, 'https', HTTPS_BASE, 'http').steps;
    return h.s.quick ? n : 2 * n - (h.has('nginx') ? h.s.repeat : 0);
  },
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

interface WrkRuns {
  keep: ClientMeasured<WrkResult>;
  fresh: ClientMeasured<WrkResult>;
}

/** Connections wrk keeps open (as the JS HTTPS rows). */
const WRK_CONNECTIONS = 50;

export const wrk: Scenario = {
  id: 'wrk',
  title: 'HTTPS minimal (wrk)',
  steps: (h) => (h.s.c.wrk ? plan(h, 'wrk', HTTPS_BASE, 'http').steps : 0),
  async run(h) {
    const names = ['HTTPS minimal keep-alive req/s (wrk)', 'HTTPS minimal keep-alive req per server CPU-s (wrk)', 'HTTPS minimal new conn req/s (wrk)', 'HTTPS minimal new conn req per server CPU-s (wrk)'];
    const binary = h.s.c.wrk;
    if (!binary) {
      return names.map((name) => makeRow({ name, unit: name.includes('CPU') ? 'req/CPU-s' : 'req/s', higherIsBetter: true }, { rxtls: null, node: null }, undefined, 'wrk is not installed (apt-get install -y wrk)'));
    }
    const notes: string[] = [];
    const { warmup, seconds } = h.s.c;
    const cpus = h.s.pinning.client;
    const threads = Math.min(h.s.pinning.clientCpus, WRK_CONNECTIONS);
    const m = await perEngine(
      h,
      `${this.title}, ${WRK_CONNECTIONS} connections`,
      plan(h, this.id, HTTPS_BASE, 'http').engines,
      (e) =>
        h.withServer(e, 'http', 'minimal', 'wrk', async (server) => {
          const url = `${serverEntry(e).tls ? 'https' : 'http'}://127.0.0.1:${server.port}/`;
          const run = async (close: boolean, secs: number): Promise<WrkResult> => {
            const r = await runClient(binary, wrkArgs({ url, connections: WRK_CONNECTIONS, threads, seconds: secs, close }), cpus, (secs + 20) * 1000);
            if (r.code !== 0) throw new Error(`wrk exited with ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ')}`);
            return parseWrk(r.stdout);
          };
          // wrk takes whole seconds: the warm-up is a longer run stopped early.
          if (warmup > 0) await runClient(binary, wrkArgs({ url, connections: WRK_CONNECTIONS, threads, seconds: 60, close: false }), cpus, warmup * 1000 + 10_000, warmup * 1000);
          return {
            keep: await h.measureClient(server, 'wrk-keepalive', () => run(false, seconds)),
            fresh: await h.measureClient(server, 'wrk-close', () => run(true, seconds)),
          };
        }),
      notes,
    );
    for (const [engine, x] of allRuns(m)) {
      for (const [kind, r] of [['keep-alive', x.keep.value], ['new conn', x.fresh.value]] as const) {
        if (r.errors) notes.push(`${ENGINE_LABEL[engine]} ${kind}: ${r.errorText}`);
      }
    }
    // wrk keeps each connection's session for its next one (SSL_clear), so part of its new connections resume.
    const shares = resumedShares(m, (x) => x.fresh);
    const freshNote = shares ? `handshakes that resumed (wrk reuses each connection's session): ${shares}` : undefined;
    return rows<WrkRuns>(
      [
        { name: names[0]!, unit: 'req/s', higherIsBetter: true, get: (x) => x.keep.value.requestsPerSec },
        { name: names[1]!, unit: 'req/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.keep.value.requests, x.keep), target: { ratio: 1.8 } },
        { name: names[2]!, unit: 'req/s', higherIsBetter: true, get: (x) => x.fresh.value.requestsPerSec, ...(freshNote ? { note: freshNote } : {}) },
        { name: names[3]!, unit: 'req/CPU-s', higherIsBetter: true, get: (x) => perCpu(x.fresh.value.requests, x.fresh) },
      ],
      m,
      { nginx: true, tcp: true },
      notes,
    );
  },
};

/**
 * Full handshakes per second (openssl s_time -new, S_TIME_PARALLEL at once)
 * against examples/cluster.ts with 1 and then 2 native worker processes
 * bound with SO_REUSEPORT, in the same run, and the ratio. The workers and
 * s_time all run on every core the bench has (not split server/client): on
 * a 2-core machine they share both, so the ratio is what this machine
 * allows, not the workers' ceiling.
 */
export const clusterScaling: Scenario = {
  id: 'cluster',
  title: 'full handshakes, 1 and 2 worker processes (reusePort)',
  steps: (h) => (h.s.c.openssl ? 2 * h.s.repeat : 0),
  async run(h) {
    const names = ['full handshakes/s, 1 worker process (s_time, native, reusePort)', 'full handshakes/s, 2 worker processes (s_time, native, reusePort)'];
    const openssl = h.s.c.openssl;
    const ratioName = 'handshake scaling, 2 workers / 1';
    if (!openssl) {
      return [...names, ratioName].map((name) => makeRow({ name, unit: name === ratioName ? 'x' : 'hs/s', higherIsBetter: true }, { rxtls: null, node: null }, undefined, 'openssl is not installed'));
    }
    const { warmup, seconds } = h.s.c;
    // Every core the bench may use, for the workers and s_time alike.
    const cpus = [h.s.pinning.server, h.s.pinning.client].filter((c) => c !== null).join(',') || null;
    const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
    const notes: string[] = [];
    // Interleaved rounds (1, 2, 1, 2, …): a change in background load hits both alike.
    for (let round = 0; round < h.s.repeat; round++) {
      for (const workers of [1, 2] as const) {
        h.progress.next(`${this.title} · ${workers} worker${workers > 1 ? 's' : ''}${h.s.repeat > 1 ? ` (round ${round + 1}/${h.s.repeat})` : ''}`);
        let cluster: Awaited<ReturnType<typeof startCluster>> | undefined;
        try {
          cluster = await startCluster(workers, cpus, h.s.certFile, h.s.keyFile, h.s.serverEnv);
          const port = cluster.port;
          if (warmup > 0) await Promise.all(Array.from({ length: S_TIME_PARALLEL }, () => runClient(openssl, sTimeArgs(port, 'new', 60), cpus, warmup * 1000 + 10_000, warmup * 1000)));
          const g = await runSTimeGroup(openssl, port, 'new', seconds, S_TIME_PARALLEL, cpus);
          rates[workers].push(g.connections / g.seconds);
        } catch (err) {
          notes.push(`${workers} worker(s) failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
        } finally {
          await cluster?.stop();
        }
      }
    }
    const one = median(rates[1]);
    const two = median(rates[2]);
    const note = ['not split server/client: the workers and s_time share every core the bench has', ...notes].join('; ');
    return [
      makeRow({ name: names[0]!, unit: 'hs/s', higherIsBetter: true }, { rxtls: one === null ? null : round(one, 0), node: null }, undefined, note),
      makeRow({ name: names[1]!, unit: 'hs/s', higherIsBetter: true }, { rxtls: two === null ? null : round(two, 0), node: null }),
      makeRow({ name: ratioName, unit: 'x', higherIsBetter: true }, { rxtls: one && two !== null ? round(two / one, 2) : null, node: null }),
    ];
  },
};

export const SCENARIOS: readonly Scenario[] = [handshakes, resumed, sTime, bulk, smallMessages, idleMemory, https, wrk, clusterScaling];
