// `pnpm bench`: every scenario for rxtls (the native transport, and its
// variants where they apply: [js] is the JS transport), node:tls, plain TCP
// and nginx, one after the other, each
// server in its own process pinned to one core; the load generators (the
// rxtls one in this process, wrk, openssl s_time) on the other cores.
// See --help and docs/PERFORMANCE.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { numberValue, parseCommandLine, UsageError } from '@rxtls/bench';
import { createSelfSignedCertificate } from '@rxtls/core';

import { findOpenssl, findWrk } from './lib/c-clients.js';
import { pinSelf, planPinning } from './lib/cpu-pinning.js';
import { Harness, type EngineId, type Settings } from './lib/harness.js';
import { table, type Row } from './lib/report.js';
import { SCENARIOS } from './lib/scenarios.js';
import { findNginx, killAllServers } from './lib/server-process.js';
import { SERVERS } from './servers/table.js';

const HELP = `usage: pnpm bench [-- options]   (or: node --import tsx bench/run.ts [options])

  --quick            short windows, fewer connections: about 2 minutes on 2 cores
  --tiny             1 s windows, no warm-up, 100 idle connections: checks that every row
                     produces figures (the harness test), not a measurement
  --json FILE        also write { "scenarios": [ { name, unit, higherIsBetter, rxtls, node, ratio, openssl?, ... } ] }
  --repeat N         rounds per engine in the rate scenarios, interleaved; the median is kept
                     (default 1 with --quick, else 3)
  --only LIST        scenarios to run, comma separated: ${SCENARIOS.map((s) => s.id).join(',')}
  --skip LIST        servers to leave out, comma separated: ${SERVERS.filter((e) => e.id !== 'rxtls' && e.id !== 'node').map((e) => e.id).join(',')}
  --no-pin           do not pin servers and load generators to separate cores (taskset)
  --cpu-prof DIR     write a V8 CPU profile of each node server's measured window into DIR
                     (summarise one with: node --import tsx bench/profile-summary.ts FILE)
  --perf DIR         record each measured window of every server with \`perf record -g\` into DIR
  --no-system-ca     EXPERIMENT: point SSL_CERT_FILE/SSL_CERT_DIR of every server at nothing, which
                     removes the per-handshake CA-store lookups of rxtls server contexts (see docs)
  --cores N          UV_THREADPOOL_SIZE=N for the servers: the pool threads the [offload] rows
                     (handshakeOffload) run handshake steps on; run once per N to see the scaling
  --client-transport T
                     the transport of the JS load generator's TLS connections: native (default)
                     or js (TlsEngine over net.Socket, the load generator before the native transport)
  --help             this text

The table prints to stdout, progress to stderr. Columns: rxtls (the native
transport: createTlsServer({ transport: 'native' })), node:tls,
ratio = rxtls / node:tls, the issue's target and whether it is met, plain
TCP (node:net / node:http), nginx (one process, the C reference) and
rxtls / nginx. Rows marked [suffix] put a variant in the rxtls column:
[js] is the JS transport (TlsEngine over net.Socket; no target, compared
with node:tls), [offload] and [rx] as bench/servers/table.ts builds them.
Rows marked (s_time) and (wrk) come from the C load generators; the others
from the JS load generator (@rxtls/bench), whose TLS connections run on the
native transport unless --client-transport js.`;

async function main(): Promise<void> {
  const { values } = parseCommandLine({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean' },
      tiny: { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      json: { type: 'string' },
      only: { type: 'string' },
      skip: { type: 'string' },
      'cpu-prof': { type: 'string' },
      perf: { type: 'string' },
      cores: { type: 'string' },
      repeat: { type: 'string' },
      'no-system-ca': { type: 'boolean' },
      'client-transport': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const flags = { ...values, cores: numberValue('cores', values.cores), repeat: numberValue('repeat', values.repeat) };
  if (flags.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const tiny = flags.tiny ?? false;
  const quick = (flags.quick ?? false) || tiny;
  const repeat = flags.repeat ?? (quick ? 1 : 3);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 9) throw new UsageError('--repeat must be an integer from 1 to 9');
  const only = flags.only ? new Set(flags.only.split(',')) : null;
  if (only) for (const id of only) if (!SCENARIOS.some((s) => s.id === id)) throw new UsageError(`unknown scenario "${id}"`);
  const clientTransport = flags['client-transport'] ?? 'native';
  if (clientTransport !== 'native' && clientTransport !== 'js') throw new UsageError('--client-transport must be native or js');
  const skip = new Set((flags.skip ?? '').split(',').filter(Boolean));
  for (const id of skip) if (!SERVERS.some((e) => e.id === id)) throw new UsageError(`unknown server "${id}"`);

  const startNotes: string[] = [];
  const engines = new Set<EngineId>();
  for (const entry of SERVERS) {
    if (skip.has(entry.id)) continue;
    const why = entry.unavailable ? await entry.unavailable() : null;
    if (why) startNotes.push(why);
    else {
      engines.add(entry.id);
      if (entry.note) startNotes.push(entry.note);
    }
  }
  const nginx = engines.has('nginx') ? findNginx() : null;
  const pinning = planPinning(flags['no-pin'] ?? false);
  if (pinning.warning) startNotes.push(`not pinned: ${pinning.warning}`);
  else startNotes.push(`servers pinned to CPU ${pinning.server}, load generators (this process, wrk, s_time) to CPU ${pinning.client} (taskset)`);
  pinSelf(pinning.client);
  startNotes.push(`the JS load generator's TLS connections run on the ${clientTransport} transport${clientTransport === 'native' ? ' (NativeTlsConnection)' : ' (TlsEngine over net.Socket)'}`);
  const c = { wrk: findWrk(), openssl: findOpenssl(), warmup: tiny ? 0 : quick ? 0.5 : 1, seconds: quick ? 1 : 5 };
  if (!c.wrk) startNotes.push('wrk is not installed: the (wrk) rows are empty (apt-get install -y wrk)');
  const serverEnv: NodeJS.ProcessEnv = {};
  if (flags['no-system-ca']) {
    serverEnv['SSL_CERT_FILE'] = '/nonexistent/rxtls-bench';
    serverEnv['SSL_CERT_DIR'] = '/nonexistent/rxtls-bench';
    startNotes.push('--no-system-ca: servers run without the system CA store (an experiment, not rxtls as shipped)');
  }
  if (flags.cores !== undefined) {
    if (!Number.isInteger(flags.cores) || flags.cores < 1 || flags.cores > 128) throw new UsageError('--cores must be an integer from 1 to 128');
    serverEnv['UV_THREADPOOL_SIZE'] = String(flags.cores);
    startNotes.push(
      engines.has('offload')
        ? `--cores ${flags.cores}: the servers run with UV_THREADPOOL_SIZE=${flags.cores}; the [offload] rows use that many pool threads for handshakes (a sweep over N is not automated: run once per N)`
        : `--cores ${flags.cores} is a stub: without handshakeOffload it only sets UV_THREADPOOL_SIZE=${flags.cores} for the servers (no effect on either engine's handshakes)`,
    );
  }

  const tmp = mkdtempSync(join(tmpdir(), 'rxtls-bench-'));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  const interrupted = () => {
    killAllServers();
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // ECDSA P-256, made for this run only.
    const { cert, key } = createSelfSignedCertificate({ keyType: 'ec' });
    const certFile = join(tmp, 'cert.pem');
    const keyFile = join(tmp, 'key.pem');
    writeFileSync(certFile, cert);
    writeFileSync(keyFile, key, { mode: 0o600 });
    let cpuProfDir: string | undefined;
    if (flags['cpu-prof']) {
      cpuProfDir = resolve(flags['cpu-prof']);
      mkdirSync(cpuProfDir, { recursive: true });
    }
    let perfDir: string | undefined;
    if (flags.perf) {
      perfDir = resolve(flags.perf);
      mkdirSync(perfDir, { recursive: true });
    }
    const settings: Settings = {
      quick,
      warmup: tiny ? 0 : quick ? 0.5 : 1,
      duration: tiny ? 1 : quick ? 1.2 : 5,
      bulkBytes: (tiny ? 8 : quick ? 128 : 256) * 1024 * 1024,
      idleConnections: tiny ? 100 : quick ? 800 : 5000,
      repeat,
      engines,
      pinning,
      c,
      nginx,
      tmp,
      certFile,
      keyFile,
      ...(cpuProfDir ? { cpuProfDir } : {}),
      ...(perfDir ? { perfDir } : {}),
      serverEnv,
      clientTransport,
    };
    const h = new Harness(settings);
    const scenarios = SCENARIOS.filter((s) => !only || only.has(s.id));
    h.progress.plan(scenarios.reduce((n, s) => n + s.steps(h), 0));
    const machine = describeMachine(findNginx());
    process.stdout.write(`rxtls bench${tiny ? ' --tiny' : quick ? ' --quick' : ''}: ${machine.summary}\n`);
    for (const n of startNotes) process.stdout.write(`note: ${n}\n`);
    const started = Date.now();
    const rows: Row[] = [];
    for (const s of scenarios) rows.push(...(await s.run(h)));
    h.progress.done();
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write('\n' + table(rows) + '\n');
    process.stdout.write(`\n${rows.filter((r) => r.met === true).length} of ${rows.filter((r) => r.met !== undefined).length} targets met; ${seconds.toFixed(0)} s\n`);
    if (flags.json) {
      const out = {
        machine: machine.details,
        quick,
        tiny,
        repeat,
        pinning,
        noSystemCa: flags['no-system-ca'] ?? false,
        clientTransport,
        seconds: Math.round(seconds),
        notes: startNotes,
        columns: {
          rxtls: "rxtls on the native transport (createTlsServer({ transport: 'native' })); rows marked [suffix]: that variant of bench/servers/table.ts ([js]: the JS transport, TlsEngine over net.Socket)",
          node: 'node:tls',
          ratio: 'rxtls / node',
          openssl: nginx ? 'nginx (one process)' : 'not run',
          ratioNginx: 'rxtls / nginx',
          tcp: 'plain TCP (node:net / node:http)',
        },
        scenarios: rows,
      };
      writeFileSync(flags.json, JSON.stringify(out, null, 2) + '\n');
      process.stdout.write(`wrote ${flags.json}\n`);
    }
  } finally {
    cleanup();
  }
}

function describeMachine(nginx: string | null): { summary: string; details: Record<string, string | number> } {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  let nginxVersion = 'not installed';
  if (nginx) {
    // `nginx -v` prints to stderr.
    const r = spawnSync(nginx, ['-v'], { encoding: 'utf8' });
    nginxVersion = (r.stderr ?? '').trim().replace(/^nginx version: /, '') || nginx;
  }
  const wrk = findWrk();
  // `wrk -v` prints its version line and usage, and exits non-zero.
  const wrkVersion = wrk ? (spawnSync(wrk, ['-v'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0]!.replace(/^wrk /, '').replace(/ Copyright.*/, '').trim() || wrk : 'not installed';
  const details = {
    cpus: cpus().length,
    cpuModel: model,
    node: process.version,
    openssl: process.versions.openssl ?? 'unknown',
    nginx: nginxVersion,
    wrk: wrkVersion,
  };
  return {
    summary: `${details.cpus} x ${model}, Node ${details.node}, OpenSSL ${details.openssl}, nginx ${nginxVersion}, wrk ${wrkVersion}`,
    details,
  };
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) process.stderr.write(`bench: ${err.message}\nsee --help\n`);
  else process.stderr.write(`\nbench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
