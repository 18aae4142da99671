// rxtls-bench: the load generator as a command. See HELP.
import { readFileSync, writeFileSync } from 'node:fs';

import type { Transport } from '@rxtls/core';

import { DEFAULTS, LIMITS, LOAD_MODES, runLoad, type LoadMode, type LoadOptions } from './run-load.js';
import { ProgressText, resultTable } from './report.js';
import { StatusLine } from './status-line.js';
import { parseHostPort } from './target.js';
import { numberValue, parseCommandLine, parseSize, UsageError } from './values.js';

const HELP = `rxtls-bench: a TLS load generator built on rxtls. Drives any TLS server
(handshakes, echo, bulk transfer, HTTPS) and reports rates and latency.

usage: rxtls-bench HOST:PORT [options]        ([IPv6]:PORT for IPv6 addresses)

scenarios (--scenario, -s):
  handshake   connect, complete the handshake, close; repeat (--connections in flight)
  echo        send --size bytes, wait for as many back; repeat (any echo server)
  https       GET --path over HTTP/1.1 and read the response; repeat over keep-alive
              connections, or with --new-connection a new connection per request
              (also: http; with --plain it is plain HTTP)
  upload      bulk, the bench stream protocol: "up N\\n" + N bytes, answered by "ok\\n"
  download    bulk, the bench stream protocol: "down N\\n", answered by N bytes
  hold        open --connections and hold them idle (--hold s, or until a line on stdin)

options:
  -s, --scenario S      one of the scenarios above (default echo)
  -c, --connections N   concurrent connections (default ${DEFAULTS.connections}, at most ${LIMITS.connections})
  -d, --duration S      measured seconds (default ${DEFAULTS.duration}, at most ${LIMITS.durationSec})
      --warmup S        unmeasured seconds first (default ${DEFAULTS.warmup}); bulk: a smaller transfer first
      --size BYTES      echo message size (default ${DEFAULTS.size}), or upload/download transfer size
                        (default 64m); units k, m, g: 64, 16k, 256m
      --new-connection  echo/https: a new connection (and handshake) per request
      --resume          offer the previous connection's session (ticket) on each new connection
      --requests N      stop after N measured requests (handshakes in the handshake scenario)
      --path P          https request path (default /)
      --hold S          hold: the longest to hold the connections, seconds (default ${DEFAULTS.hold})
      --servername NAME SNI to send and the name the certificate must match (default: HOST
                        when it is a name; an IP address is verified as such)
      --ca FILE         trust the CA certificates in this PEM file, besides the system store
  -k, --insecure        do not verify the server's certificate (self-signed test servers)
      --plain           plain TCP instead of TLS (the ceiling of a TLS engine on TCP)
      --transport T     the rxtls transport of the client connections: native (default; the
                        socket in the addon) or js (TlsEngine over a net.Socket)
      --allow-remote    allow a target that is not on loopback (127.0.0.0/8, ::1); without it
                        such targets are refused. Load only servers you are allowed to load.
      --json FILE       also write the result as JSON to FILE ("-": to stdout, instead of the table)
  -q, --quiet           no progress line
  -h, --help            this text

Progress goes to stderr (one line rewritten each second on a terminal, a line a
second otherwise), the table to stdout. Limits: ${LIMITS.connections} connections, ${LIMITS.durationSec} s,
${LIMITS.messageBytes / 1024 / 1024} MiB messages, ${LIMITS.transferBytes / 1024 ** 3} GiB transfers, and a hard time budget per run.
Exit status: 0 when something was measured, 1 when every attempt failed, 2 on a usage error.

examples:
  rxtls-bench 127.0.0.1:8443 -s handshake -c 50 -d 10 --insecure
  rxtls-bench localhost:8443 -s echo --size 16k --ca ca.pem --json out.json
  rxtls-bench 127.0.0.1:443 -s https --new-connection --resume -k`;

const OPTIONS = {
  scenario: { type: 'string', short: 's' },
  connections: { type: 'string', short: 'c' },
  duration: { type: 'string', short: 'd' },
  warmup: { type: 'string' },
  size: { type: 'string' },
  'new-connection': { type: 'boolean' },
  resume: { type: 'boolean' },
  requests: { type: 'string' },
  path: { type: 'string' },
  hold: { type: 'string' },
  servername: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean', short: 'k' },
  plain: { type: 'boolean' },
  transport: { type: 'string' },
  'allow-remote': { type: 'boolean' },
  json: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function scenario(text: string | undefined): LoadMode {
  const name = text === 'https' ? 'http' : (text ?? 'echo');
  if (!(LOAD_MODES as readonly string[]).includes(name)) throw new UsageError(`--scenario must be one of handshake, echo, https, upload, download, hold (not "${text}")`);
  return name as LoadMode;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function transport(text: string | undefined): Transport {
  if (text === undefined) return DEFAULTS.transport ?? 'native';
  if (text !== 'native' && text !== 'js') throw new UsageError(`--transport must be native or js (not "${text}")`);
  return text;
}

async function main(argv: string[]): Promise<void> {
  const { values: f, positionals } = parseCommandLine({ args: argv, options: OPTIONS, allowPositionals: true });
  if (f.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  if (positionals.length > 1) throw new UsageError(`one target only, got ${positionals.join(' ')}`);
  const { host, port } = parseHostPort(positionals[0]);
  const mode = scenario(f.scenario);
  const bulk = mode === 'upload' || mode === 'download';
  const abort = new AbortController();
  const status = new StatusLine();
  const connections = numberValue('connections', f.connections);
  const duration = numberValue('duration', f.duration);
  const warmup = numberValue('warmup', f.warmup);
  const hold = numberValue('hold', f.hold);
  const requests = numberValue('requests', f.requests);
  const progress = new ProgressText(mode === 'hold' ? (hold ?? DEFAULTS.hold) : (duration ?? DEFAULTS.duration), mode, f['new-connection'] ?? false);
  const options: LoadOptions = {
    ...DEFAULTS,
    host,
    port,
    mode,
    allowRemote: f['allow-remote'] ?? false,
    ...(connections !== undefined ? { connections } : {}),
    ...(duration !== undefined ? { duration } : {}),
    ...(warmup !== undefined ? { warmup } : {}),
    ...(hold !== undefined ? { hold } : {}),
    size: f.size !== undefined ? parseSize(f.size) : bulk ? 64 * 1024 * 1024 : DEFAULTS.size,
    newConnection: f['new-connection'] ?? false,
    resume: f.resume ?? false,
    maxRequests: requests ?? 0,
    path: f.path ?? '/',
    ...(f.servername !== undefined ? { servername: f.servername } : {}),
    ...(f.ca !== undefined ? { ca: readFileSync(f.ca, 'utf8') } : {}),
    insecure: f.insecure ?? false,
    plain: f.plain ?? false,
    transport: transport(f.transport),
    signal: abort.signal,
    ...(f.quiet ? {} : { onEvent: (e) => e.event === 'progress' && status.show(progress.line(e)) }),
  };
  if (mode === 'hold') {
    // A line on stdin ends the hold early (a harness's signal); --hold bounds it anyway.
    process.stdin.on('data', () => abort.abort());
  }
  const result = await runLoad(options).finally(() => {
    status.clear();
    if (mode === 'hold') process.stdin.destroy();
  });
  if (f.json !== undefined) {
    const out = JSON.stringify({ tool: `rxtls-bench ${version()}`, node: process.version, openssl: process.versions.openssl, args: argv, result }, null, 2) + '\n';
    if (f.json === '-') process.stdout.write(out);
    else writeFileSync(f.json, out);
  }
  if (f.json !== '-') process.stdout.write(resultTable(result) + '\n');
  if (result.errors > 0 && result.requests + result.handshakes + result.established === 0) {
    if (/certificate|verify/i.test(result.firstError ?? '') && !options.insecure)
      process.stderr.write('rxtls-bench: the server certificate did not verify: give its CA with --ca FILE, or --insecure\n');
    process.exitCode = 1;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`rxtls-bench: ${err instanceof Error ? err.message : String(err)}\n`);
  if (err instanceof UsageError || err instanceof RangeError) {
    process.stderr.write('see rxtls-bench --help\n');
    process.exitCode = 2;
  } else process.exitCode = 1;
});
