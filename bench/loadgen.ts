// The rxtls load generator as a command. See `--help`.
import { readFileSync } from 'node:fs';

import { parseFlags, parseSize, UsageError } from './lib/args.js';
import { DEFAULTS, LIMITS, LOAD_MODES, runLoad, type LoadMode, type LoadOptions, type LoadResult } from './lib/loadgen-core.js';

const HELP = `rxtls load generator: drives a TLS server on loopback with rxtls clients.

usage: node --import tsx bench/loadgen.ts HOST:PORT [options]

modes (--mode):
  handshake   connect, complete the handshake, close; repeat (--connections in flight)
  echo        send --size bytes, wait for as many back; repeat (any echo server)
  http        GET --path, read the response (Content-Length or chunked); repeat
  upload      bench stream protocol: "up N\\n" + N bytes, server answers "ok\\n"
  download    bench stream protocol: "down N\\n", server sends N bytes
  hold        open --connections and hold them idle (for --hold s, or until a line on stdin)

options:
  --mode M            one of the modes above (default echo)
  --connections N     concurrent connections (default ${DEFAULTS.connections}, at most ${LIMITS.connections})
  --duration S        measured seconds (default ${DEFAULTS.duration}, at most ${LIMITS.durationSec})
  --warmup S          unmeasured seconds first (default ${DEFAULTS.warmup})
  --size BYTES        echo message size, or upload/download transfer size (e.g. 64, 16k, 256m)
  --new-connection    echo/http: a new connection (and handshake) per request
  --resume            offer the previous connection's session ticket (if @rxtls/core supports it)
  --requests N        stop after N measured requests or handshakes
  --path P            http request path (default /)
  --hold S            hold mode: the longest to hold, seconds (default ${DEFAULTS.hold})
  --servername NAME   SNI to send
  --ca FILE           verify the server against this PEM CA (default: no verification)
  --plain             plain TCP instead of TLS (to measure the TCP ceiling)
  --json              print the result as one JSON object (plus event lines when --events)
  --events            print measure-start/measure-end/established/progress as JSON lines
  --help              this text

reports handshakes/s, requests/s, bytes/s and latency p50/p90/p99/max (ms).
Targets must be loopback (127.0.0.0/8, ::1, localhost).`;

function parseTarget(text: string | undefined): { host: string; port: number } {
  if (!text) throw new UsageError('give the target as HOST:PORT');
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m) throw new UsageError(`cannot read target "${text}" (expected HOST:PORT)`);
  return { host: m[1]!, port: Number(m[2]) };
}

function human(r: LoadResult): string {
  const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
  const lines = [
    `${r.mode} against ${r.target}: ${r.connections} connection(s)${r.newConnection ? ', new connection per request' : ''}, ${r.seconds.toFixed(2)} s measured`,
    `  handshakes  ${r.handshakes}  (${r.handshakesPerSec.toFixed(0)}/s${r.resumed ? `, ${r.resumed} resumed` : ''})`,
    `  requests    ${r.requests}  (${r.requestsPerSec.toFixed(0)}/s)`,
    `  bytes       sent ${mib(r.bytesSent)} MiB, received ${mib(r.bytesReceived)} MiB  (${mib(r.bytesPerSec)} MiB/s)`,
    `  latency ms  p50 ${r.latency.p50}  p90 ${r.latency.p90}  p99 ${r.latency.p99}  max ${r.latency.max}  (n=${r.latency.count})`,
  ];
  if (r.mode === 'hold') lines.push(`  established ${r.established}`);
  if (r.tls) lines.push(`  tls         ${r.tls.protocol} ${r.tls.cipher} ${r.tls.group ?? ''}`);
  if (r.resumeSupported === false) lines.push('  resume      not supported by this @rxtls/core: full handshakes only');
  if (r.errors) lines.push(`  errors      ${r.errors} (first: ${r.firstError})`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { flags, rest } = parseFlags(process.argv.slice(2), {
    mode: 'string',
    connections: 'number',
    duration: 'number',
    warmup: 'number',
    size: 'string',
    'new-connection': 'boolean',
    resume: 'boolean',
    requests: 'number',
    path: 'string',
    hold: 'number',
    servername: 'string',
    ca: 'string',
    plain: 'boolean',
    json: 'boolean',
    events: 'boolean',
    help: 'boolean',
  });
  if (flags.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const { host, port } = parseTarget(rest[0]);
  const mode = (flags.mode ?? 'echo') as LoadMode;
  if (!LOAD_MODES.includes(mode)) throw new UsageError(`--mode must be one of ${LOAD_MODES.join(', ')}`);
  const bulk = mode === 'upload' || mode === 'download';
  const abort = new AbortController();
  const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  const options: LoadOptions = {
    ...DEFAULTS,
    host,
    port,
    mode,
    ...(flags.connections !== undefined ? { connections: flags.connections } : {}),
    ...(flags.duration !== undefined ? { duration: flags.duration } : {}),
    ...(flags.warmup !== undefined ? { warmup: flags.warmup } : {}),
    size: flags.size !== undefined ? parseSize(flags.size) : bulk ? 64 * 1024 * 1024 : DEFAULTS.size,
    newConnection: flags['new-connection'] ?? false,
    resume: flags.resume ?? false,
    maxRequests: flags.requests ?? 0,
    path: flags.path ?? '/',
    ...(flags.hold !== undefined ? { hold: flags.hold } : {}),
    ...(flags.servername !== undefined ? { servername: flags.servername } : {}),
    ...(flags.ca !== undefined ? { ca: readFileSync(flags.ca, 'utf8') } : {}),
    plain: flags.plain ?? false,
    signal: abort.signal,
    ...(flags.events ? { onEvent: emit } : {}),
  };
  if (mode === 'hold') {
    // A line on stdin ends the hold early (a harness's signal); --hold bounds it anyway.
    process.stdin.on('data', () => abort.abort());
  }
  const result = await runLoad(options);
  if (mode === 'hold') process.stdin.destroy();
  if (flags.json) emit({ result });
  else process.stdout.write(human(result) + '\n');
  if (result.errors > 0 && result.requests + result.handshakes + result.established === 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`loadgen: ${err instanceof Error ? err.message : String(err)}\n`);
  if (err instanceof UsageError || err instanceof RangeError) process.stderr.write('see --help\n');
  process.exitCode = 2;
});
