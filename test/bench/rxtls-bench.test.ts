// The rxtls-bench command (packages/bench, its `bin`, as built) against
// node:tls, node:https and rxtls servers (both transports) on 127.0.0.1, in
// tiny bounded runs: the JSON it writes has sane counts, the table and the
// progress lines are there, --help documents every flag, the client runs on
// the native transport unless --transport js, and targets off loopback are
// refused unless --allow-remote. No timing thresholds: the figures are not
// judged.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

import type { LoadResult } from '@rxtls/bench';
import { createSelfSignedCertificate, createTlsServer, type NativeTlsConnection, type NativeTlsServer } from '@rxtls/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { StreamProtocol } from '../../bench/lib/protocols.ts';
import { withTimeout } from '../helpers/net.ts';
import { pki } from '../helpers/pki.ts';

const PKG = new URL('../../packages/bench/', import.meta.url);
const BIN = new URL((JSON.parse(readFileSync(new URL('package.json', PKG), 'utf8')) as { bin: Record<string, string> }).bin['rxtls-bench']!, PKG).pathname;
const dir = mkdtempSync(join(tmpdir(), 'rxtls-bench-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// Loaded into every run: a connect to anything but loopback exits at once
// (status 99) before a packet leaves, so even a broken refusal never sends
// traffic off this machine. Both ways out: net.Socket (the JS transport,
// --plain) and the addon's tcpConnect (the native transport; the binding
// object is the one @rxtls/core uses, the same module by its real path).
const NATIVE = new URL('../../packages/native/dist/index.js', import.meta.url).href;
const LOOPBACK_GUARD = `data:text/javascript,${encodeURIComponent(`
import net from 'node:net';
const { binding } = await import(${JSON.stringify(NATIVE)});
const tcpConnect = binding.tcpConnect;
binding.tcpConnect = function (context, ip, ...rest) {
  if (!/^(127\\.|::1$)/.test(ip)) {
    process.stderr.write('loopback guard: native connect to ' + ip + ' blocked\\n');
    process.exit(99);
  }
  return tcpConnect.call(this, context, ip, ...rest);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const host = typeof first === 'object' && first !== null ? first.host : args[1];
  if (host !== undefined && !/^(127\\.|::1$|localhost$)/.test(host)) {
    process.stderr.write('loopback guard: connect to ' + host + ' blocked\\n');
    process.exit(99);
  }
  return connect.apply(this, args);
};`)}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bench(args: string[]): Promise<Run> {
  const run = new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, ['--import', LOOPBACK_GUARD, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return withTimeout(run, 60_000, `rxtls-bench ${args.join(' ')}`);
}

let files = 0;
/** Runs with `--json FILE` and returns the run and the result read back from the file. */
async function benchJson(args: string[]): Promise<{ run: Run; r: LoadResult }> {
  const file = join(dir, `out-${++files}.json`);
  const run = await bench([...args, '--json', file]);
  assert.is(run.code, 0, run.stderr);
  const out = JSON.parse(readFileSync(file, 'utf8')) as { tool: string; result: LoadResult };
  assert.match(out.tool, /^rxtls-bench \d/);
  return { run, r: out.result };
}

function listen(server: Server | NativeTlsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}
const close = (server: Server | NativeTlsServer) => new Promise<void>((r) => server.close(() => r()));

function listenNative(server: NativeTlsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address()!.port)));
}

/** A stream-protocol server (the bench's bulk protocol) on the native transport. */
function nativeStreamServer(cert: string, key: string): NativeTlsServer {
  return createTlsServer({ cert, key, transport: 'native' }, (conn: NativeTlsConnection) => {
    const p = new StreamProtocol({
      write: (d) => conn.write(d),
      onceDrain: (fn) => {
        conn.ondrain = () => {
          conn.ondrain = undefined;
          fn();
        };
      },
      end: () => conn.end(),
    });
    conn.ondata = (chunk) => p.push(chunk);
  });
}

function checkLatency(r: LoadResult, samples: number): void {
  const l = r.latency;
  assert.is(l.count, samples, 'one latency sample per counted operation');
  assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, `ordered: ${JSON.stringify(l)}`);
  assert.ok(l.mean > 0 && l.mean <= l.max, `mean within range: ${JSON.stringify(l)}`);
}

test('--help documents every flag and every scenario', async () => {
  const run = await bench(['--help']);
  assert.is(run.code, 0, run.stderr);
  for (const flag of ['--scenario', '--connections', '--duration', '--warmup', '--size', '--new-connection', '--resume', '--requests', '--path', '--hold', '--servername', '--ca', '--insecure', '--plain', '--transport', '--allow-remote', '--json', '--quiet', '--help'])
    assert.ok(run.stdout.includes(flag), `--help mentions ${flag}`);
  for (const s of ['handshake', 'echo', 'https', 'upload', 'download', 'hold']) assert.match(run.stdout, new RegExp(`^  ${s} `, 'm'));
  // parseArgs is strict: a typo is an error, not a different benchmark.
  const typo = await bench(['127.0.0.1:1', '--conections', '4']);
  assert.is(typo.code, 2);
  assert.match(typo.stderr, /conections/);
  const transport = await bench(['127.0.0.1:1', '--transport', 'tcp']);
  assert.is(transport.code, 2);
  assert.match(transport.stderr, /--transport must be native or js/);
});

test('echo against a node:tls server, verified with --ca: counts, bytes, latency, table, progress lines', async () => {
  const { server: leaf } = pki();
  const server = tls.createServer({ cert: leaf.cert, key: leaf.key }, (socket) => socket.pipe(socket));
  const port = await listen(server);
  try {
    const { run, r } = await benchJson([`127.0.0.1:${port}`, '-s', 'echo', '-c', '2', '--size', '100', '-d', '2.5', '--warmup', '0', '--ca', pki().file('ca', 'crt'), '--servername', 'localhost']);
    assert.is(r.mode, 'echo');
    assert.is(r.errors, 0, r.firstError ?? '');
    assert.is(r.verified, true);
    assert.is(r.tls?.protocol, 'TLSv1.3');
    assert.is(r.transport, 'native', 'the native transport by default');
    assert.match(run.stdout, /client on the native transport/);
    assert.ok(r.requests > 0 && r.requestsPerSec > 0 && r.seconds > 0, `requests ${r.requests}`);
    // Counted from the window's start: the messages in flight at its end were sent but are not requests yet.
    assert.is(r.bytesSent % 100, 0);
    assert.ok(r.bytesSent >= r.requests * 100 && r.bytesSent <= (r.requests + 2) * 100, `sent ${r.bytesSent} for ${r.requests} requests`);
    assert.ok(r.bytesReceived >= r.bytesSent - 2 * 100 && r.bytesReceived <= r.bytesSent, `received ${r.bytesReceived} of ${r.bytesSent}`);
    assert.is(r.handshakes, 2, 'one handshake per keep-alive connection');
    checkLatency(r, r.requests);
    // The table on stdout; the progress on stderr as plain lines (not a TTY).
    assert.match(run.stdout, new RegExp(`^requests\\s+${r.requests}\\s`, 'm'));
    assert.match(run.stdout, /latency \(ms\)\s+p50\s+p90\s+p99/);
    assert.match(run.stderr, /^measuring \d\/2\.5 s · .* req\/s/m);
    assert.not.match(run.stderr, /\r|\x1b\[/, 'no terminal control codes off a TTY');
  } finally {
    await close(server);
  }
});

test('handshakes against an rxtls native-transport server with --insecure; --json - prints the JSON alone', async () => {
  const { cert, key } = createSelfSignedCertificate();
  const server = createTlsServer({ cert, key, transport: 'native' }, () => {});
  const port = await listenNative(server);
  try {
    const run = await bench([`127.0.0.1:${port}`, '-s', 'handshake', '-c', '3', '-d', '1', '--warmup', '0', '-k', '-q', '--json', '-']);
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stderr, '', '--quiet: no progress');
    const r = (JSON.parse(run.stdout) as { result: LoadResult }).result;
    assert.is(r.mode, 'handshake');
    assert.is(r.errors, 0, r.firstError ?? '');
    assert.is(r.verified, false);
    assert.ok(r.handshakes > 0 && r.handshakesPerSec > 0, `handshakes ${r.handshakes}`);
    assert.is(r.requests, 0);
    assert.is(r.transport, 'native');
    checkLatency(r, r.handshakes);
  } finally {
    await close(server);
  }
});

test('--transport js: resumed handshakes against an rxtls JS-transport server, and the same on the native transport', async () => {
  const { cert, key } = createSelfSignedCertificate();
  const server = createTlsServer({ cert, key, transport: 'js' }, () => {});
  const port = await listen(server);
  try {
    for (const transport of ['js', 'native']) {
      const { r } = await benchJson([`127.0.0.1:${port}`, '-s', 'handshake', '--resume', '-c', '2', '-d', '1', '--warmup', '0.2', '-k', '-q', '--transport', transport]);
      assert.is(r.transport, transport);
      assert.is(r.errors, 0, `${transport}: ${r.firstError ?? ''}`);
      assert.is(r.resumeSupported, true);
      assert.ok(r.handshakes > 0, `${transport}: handshakes ${r.handshakes}`);
      // Every measured connection offers the newest ticket (warm-up connections brought the first).
      assert.ok(r.resumed > 0 && r.resumed <= r.handshakes, `${transport}: resumed ${r.resumed} of ${r.handshakes}`);
    }
  } finally {
    await close(server);
  }
});

test('hold: idle connections against an rxtls native-transport server, all established, then closed', async () => {
  const { cert, key } = createSelfSignedCertificate();
  const server = createTlsServer({ cert, key, transport: 'native' }, () => {});
  const port = await listenNative(server);
  try {
    const { r } = await benchJson([`127.0.0.1:${port}`, '-s', 'hold', '-c', '30', '--hold', '0.5', '-k', '-q']);
    assert.is(r.errors, 0, r.firstError ?? '');
    assert.is(r.established, 30);
    // The run closed what it opened before it exited.
    const deadline = Date.now() + 5000;
    while (server.connections > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.is(server.connections, 0, 'no connection left open');
  } finally {
    await close(server);
  }
});

test('https with a new connection per request against node:https, resuming sessions', async () => {
  const { server: leaf } = pki();
  const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end('hello\n'));
  const port = await listen(server);
  try {
    const { r } = await benchJson([`localhost:${port}`, '-s', 'https', '--new-connection', '--resume', '-c', '2', '-d', '1', '--warmup', '0.2', '--ca', pki().file('ca', 'crt')]);
    assert.is(r.mode, 'http');
    assert.is(r.errors, 0, r.firstError ?? '');
    assert.is(r.target, `localhost:${port}`);
    assert.ok(r.address === '127.0.0.1' || r.address === '::1', r.address);
    assert.ok(r.requests > 0, `requests ${r.requests}`);
    assert.ok(r.handshakes >= r.requests - 2 && r.handshakes <= r.requests + 2, `a handshake per request: ${r.handshakes} for ${r.requests}`);
    assert.is(r.resumeSupported, true);
    assert.ok(r.resumed > 0, `resumed ${r.resumed} of ${r.handshakes}`);
    checkLatency(r, r.requests);
  } finally {
    server.closeAllConnections();
    await close(server);
  }
});

test('download over the bench stream protocol against an rxtls JS-transport stream server', async () => {
  const { cert, key } = createSelfSignedCertificate();
  const server = createTlsServer({ cert, key, transport: 'js' }, (engine) => {
    const p = new StreamProtocol({ write: (d) => engine.write(d), onceDrain: (fn) => engine.socket.once('drain', fn), end: () => engine.end() });
    engine.ondata = (chunk) => p.push(chunk);
  });
  const port = await listen(server);
  try {
    const { r } = await benchJson([`127.0.0.1:${port}`, '-s', 'download', '--size', '4m', '-k']);
    assert.is(r.errors, 0, r.firstError ?? '');
    assert.is(r.bytesReceived, 4 * 1024 * 1024);
    assert.is(r.requests, 1);
    checkLatency(r, 1);
  } finally {
    await close(server);
  }
});

test('upload and download against an rxtls native-transport stream server, on either client transport', async () => {
  const { cert, key } = createSelfSignedCertificate();
  const server = nativeStreamServer(cert, key);
  const port = await listenNative(server);
  try {
    for (const transport of ['native', 'js']) {
      // 8 MiB: more than a write buffer, so the upload waits for ondrain.
      const up = (await benchJson([`127.0.0.1:${port}`, '-s', 'upload', '--size', '8m', '--warmup', '0', '-k', '-q', '--transport', transport])).r;
      assert.is(up.errors, 0, `${transport}: ${up.firstError ?? ''}`);
      assert.is(up.bytesSent, 8 * 1024 * 1024);
      assert.is(up.requests, 1);
      const down = (await benchJson([`127.0.0.1:${port}`, '-s', 'download', '--size', '8m', '-k', '-q', '--transport', transport])).r;
      assert.is(down.errors, 0, `${transport}: ${down.firstError ?? ''}`);
      assert.is(down.bytesReceived, 8 * 1024 * 1024);
    }
  } finally {
    await close(server);
  }
});

test('an unverifiable certificate fails the run (errors counted) and says how to trust it', async () => {
  const { cert, key } = createSelfSignedCertificate();
  const server = createTlsServer({ cert, key, transport: 'native' }, () => {});
  const port = await listenNative(server);
  try {
    const run = await bench([`127.0.0.1:${port}`, '-s', 'handshake', '-c', '1', '-d', '0.5', '--warmup', '0', '-q']);
    assert.is(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^errors\s+[1-9]/m);
    assert.match(run.stderr, /--ca FILE, or --insecure/);
  } finally {
    await close(server);
  }
});

test('a target off loopback is refused without --allow-remote, before any connection', async () => {
  // 192.0.2.0/24 is TEST-NET-1: never routed. The refusal comes before a socket is opened.
  for (const target of ['192.0.2.1:443', '[2001:db8::1]:443', '[::ffff:192.0.2.1]:443']) {
    const run = await bench([target, '-s', 'handshake', '-d', '1', '-k']);
    assert.is(run.code, 2, `${target}: ${run.stderr}`);
    assert.match(run.stderr, /not on loopback.*--allow-remote/, target);
    assert.is(run.stdout, '');
  }
  const bad = await bench(['nohostport']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /HOST:PORT/);
});

test.run();
