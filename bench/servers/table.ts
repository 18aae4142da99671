// The servers the bench compares: one entry each. A new rxtls variant (a
// transport, an option) is one entry with `column: 'variant'`: it then runs
// in the scenarios it lists, in its own server process, and gets rows of its
// own marked `[suffix]`, compared with node:tls (and nginx and tcp where the
// scenario runs them). For example, an option of createTlsServer on the JS
// transport:
//
//   { id: 'x', label: 'rxtls [x]', column: 'variant', suffix: 'x',
//     protocols: ALL, scenarios: EVERY, tls: true, start: rxtlsWith({ x: true }) },
//
// The `rxtls` column is the native transport (createTlsServer({ transport:
// 'native' }), native.ts); the JS transport (TlsEngine over net.Socket,
// rxtls.ts) is the `[js]` variant. Both always name their transport, so
// the table does not move with createTlsServer's default.
import { hasNativeHandshakeOffload, hasRxListen } from './features.js';
import type { Protocol, ServerSetup, StartServer } from './types.js';

/** The columns of the table; variants get rows of their own instead. */
export type Column = 'rxtls' | 'node' | 'tcp' | 'nginx';

/** Scenario ids (bench/lib/scenarios.ts), for `scenarios` below. */
export type ScenarioId = 'handshake' | 'resume' | 'stime' | 'bulk' | 'small' | 'memory' | 'https' | 'wrk' | 'cluster';
export const EVERY: readonly ScenarioId[] = ['handshake', 'resume', 'stime', 'bulk', 'small', 'memory', 'https', 'wrk'];
const ALL: readonly Protocol[] = ['echo', 'stream', 'http'];

export interface ServerEntry {
  /** The id on the command line (`--skip`, bench/server.ts `--engine`). */
  readonly id: string;
  /** How progress lines and notes name it. */
  readonly label: string;
  readonly column: Column | 'variant';
  /** Variants: the row suffix, `[suffix]`. */
  readonly suffix?: string;
  /** The bench protocols it serves (nginx: the HTTP responder only, which also serves handshakes and idle connections). */
  readonly protocols: readonly Protocol[];
  /** The scenarios it runs in (each scenario also needs its protocol served). */
  readonly scenarios: readonly ScenarioId[];
  /** Speaks TLS (false: the plain-TCP ceiling). */
  readonly tls: boolean;
  /** Why it cannot run with the packages under test, or null when it can. */
  unavailable?(): Promise<string | null>;
  /** Variants: their rows' target is this bound on variant / plain rxtls instead of the metric's own. */
  readonly targetVsRxtls?: number;
  /** Variants: their rows carry no target (figures for comparison only). */
  readonly untargeted?: boolean;
  /** A note printed when it runs. */
  readonly note?: string;
  /** Starts the server inside bench/server.ts (absent for nginx, which the harness starts itself). */
  start?(setup: ServerSetup): ReturnType<StartServer>;
}

/** The rxtls server on the JS transport (rxtls.ts) with extra createTlsServer options. */
function rxtlsWith(options: Record<string, unknown>): (setup: ServerSetup) => ReturnType<StartServer> {
  return async (setup) => (await import('./rxtls.js')).start({ ...setup, options });
}

export const SERVERS: readonly ServerEntry[] = [
  {
    id: 'rxtls',
    label: 'rxtls',
    column: 'rxtls',
    protocols: ALL,
    scenarios: EVERY,
    tls: true,
    note: "rxtls is the native transport (createTlsServer({ transport: 'native' })); rows marked [js] are the JS transport (TlsEngine over net.Socket); the node:http HTTPS rows run over TlsDuplex on the connection of each",
    start: async (setup) => (await import('./native.js')).start(setup),
  },
  {
    id: 'js',
    label: 'rxtls [js]',
    column: 'variant',
    suffix: 'js',
    protocols: ALL,
    scenarios: EVERY,
    tls: true,
    // Reported beside node:tls; issue 12 asks only that they not fall below the JS transport's earlier figures.
    untargeted: true,
    start: rxtlsWith({}),
  },
  {
    id: 'offload',
    label: 'rxtls [offload]',
    column: 'variant',
    suffix: 'offload',
    protocols: ALL,
    scenarios: ['handshake', 'stime'],
    tls: true,
    unavailable: async () =>
      hasNativeHandshakeOffload() ? null : "@rxtls/core has no handshakeOffload on transport: 'native': the [offload] rows are skipped",
    note: "[offload] rows: createTlsServer({ transport: 'native', handshakeOffload: true }), handshake steps on the libuv pool",
    start: async (setup) => (await import('./native.js')).start({ ...setup, options: { ...setup.options, handshakeOffload: true } }),
  },
  {
    id: 'rx',
    label: 'rxtls [rx]',
    column: 'variant',
    suffix: 'rx',
    protocols: ['echo'],
    scenarios: ['handshake', 'small', 'memory'],
    tls: true,
    targetVsRxtls: 0.9,
    unavailable: async () => ((await hasRxListen()) ? null : '@rxtls/rx has no listen() yet: the [rx] rows are skipped'),
    note: '[rx] rows (listen + read(conn).pipe(write(conn))) exist for handshakes, small messages and idle memory; bulk and HTTPS answer interactively and have no rx variant',
    start: async (setup) => (await import('./rx.js')).start(setup),
  },
  { id: 'node', label: 'node:tls', column: 'node', protocols: ALL, scenarios: EVERY, tls: true, start: async (setup) => (await import('./node.js')).start(setup) },
  {
    id: 'tcp',
    label: 'tcp',
    column: 'tcp',
    protocols: ALL,
    scenarios: ['bulk', 'small', 'memory', 'https', 'wrk'],
    tls: false,
    start: async (setup) => (await import('./tcp.js')).start(setup),
  },
  {
    id: 'nginx',
    label: 'nginx',
    column: 'nginx',
    protocols: ['http'],
    scenarios: ['handshake', 'resume', 'stime', 'memory', 'https', 'wrk'],
    tls: true,
    unavailable: async () => ((await import('../lib/server-process.js')).findNginx() ? null : 'nginx is not installed: the nginx column is skipped (apt-get install -y nginx-light)'),
  },
];

export function serverEntry(id: string): ServerEntry {
  const e = SERVERS.find((s) => s.id === id);
  if (!e) throw new Error(`unknown bench server "${id}" (one of ${SERVERS.map((s) => s.id).join(', ')})`);
  return e;
}
