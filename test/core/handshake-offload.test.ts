// handshakeOffload: handshake steps run on libuv's thread pool, on both
// transports (`transport` is passed explicitly everywhere). Real peers
// (openssl s_client, node:tls, rxtls; TLS 1.2 and 1.3) complete handshakes
// and exchange data; with every pool thread held a handshake waits (its steps
// run there) unless a JS callback keeps it on the loop thread; a flood from a
// child process completes with zero errors, and the loop's worst event delay
// during it is printed beside the synchronous path's (a report, not an
// assertion); connections that die, time out, are destroyed or whose server
// closes while a step is in flight do not crash or leak.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

import { connectTls, issueCertificate, TLSClientContext, type ClientOptions, type SecureConnection, type TlsError, type Transport } from '@rxtls/core';
import { binding, CycleFlag, type NativeSession, type SessionOut } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { sleep, withTimeout } from '../helpers/net.js';
import { outcome, secure } from '../helpers/native-transport.js';
import { blockPool, startOffloadServer, TRANSPORTS, type OffloadServer } from '../helpers/offload.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const { TLS_client_method, TLS_server_method } = binding.methods;

const VERSIONS = [
  { name: 'TLSv1.2', openssl: '-tls1_2', node: 'TLSv1.2' as const, cap: 0x0303 },
  { name: 'TLSv1.3', openssl: '-tls1_3', node: 'TLSv1.3' as const, cap: 0x0304 },
];

/** A client of `transport`. */
function connectOn(transport: Transport, options: ClientOptions): SecureConnection {
  return transport === 'native' ? connectTls({ ...options, transport: 'native' }) : connectTls({ ...options, transport: 'js' });
}

/** Answers "pong:<data>" and ends. */
function pong(c: SecureConnection): void {
  c.ondata = (chunk) => {
    c.write(Buffer.concat([Buffer.from('pong:'), chunk]));
    c.end();
  };
}

/** An offloading pong server. */
function pongServer(transport: Transport, extra: Record<string, unknown> = {}): Promise<OffloadServer> {
  return startOffloadServer(transport, { cert: pki().server.cert, key: pki().server.key, handshakeOffload: true, ...extra }, pong);
}

const codes = (errors: readonly TlsError[]) => errors.map((e) => e.code);

/** A node:tls client to 127.0.0.1 (no dns.lookup: it would need the pool) that sends `text`; resolves with what came back. */
function nodeClient(port: number, text: string, options: tls.ConnectionOptions = {}): { socket: tls.TLSSocket; reply: Promise<string>; secure: () => boolean } {
  let isSecure = false;
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki().ca.cert, ...options }, () => {
    isSecure = true;
    socket.write(text);
  });
  const reply = new Promise<string>((resolve, reject) => {
    let got = '';
    socket.on('data', (d) => (got += d));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
  // A test may look at the outcome late (after awaiting others): a reset meanwhile is not an unhandled rejection.
  reply.catch(() => {});
  return { socket, reply, secure: () => isSecure };
}

// ---------------------------------------------------------------------------
const Native = suite('handshake offload: native cycleAsync');

function serverSession(keylog = false): { session: NativeSession; out: SessionOut } {
  const ctx = new binding.Context(TLS_server_method);
  ctx.useCertificateChain(pki().server.cert, false, 1);
  ctx.usePrivateKey(pki().server.key, false, 1);
  if (keylog) ctx.setKeylogCallback(() => {});
  const out: SessionOut = [undefined, undefined, undefined];
  return { session: new binding.Session(ctx, true, out), out };
}

function clientHello(): { client: NativeSession; out: SessionOut; hello: Buffer } {
  const ctx = new binding.Context(TLS_client_method);
  ctx.addCACertificates(pki().ca.cert);
  const out: SessionOut = [undefined, undefined, undefined];
  const client = new binding.Session(ctx, false, out, { servername: 'localhost', verifyHost: 'localhost' });
  const flags = client.cycle();
  assert.ok(flags & CycleFlag.EncOut, 'the client wrote its ClientHello');
  const hello = out[1]!;
  out[1] = undefined;
  return { client, out, hello };
}

Native('a step in flight refuses other calls; free() is deferred and no callback follows', async () => {
  const { hello } = clientHello();
  const { session } = serverSession();
  let called = false;
  assert.is(session.cycleAsync(hello, hello.length, () => (called = true)), -1);
  for (const call of [() => session.info(), () => session.cycle(), () => session.cycleAsync(undefined, 0, () => {})]) {
    try {
      call();
      assert.unreachable('a call during a step must throw');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_TLS_STATE');
    }
  }
  session.free();
  assert.ok(session.isFreed(), 'reads as freed at once');
  assert.throws(() => session.free(), (e: { code?: string }) => e.code === 'ERR_TLS_CLOSED');
  await sleep(300);
  assert.not.ok(called, 'the completion of a freed session calls nobody');
});

Native('a full handshake over cycleAsync, then records over cycle', async () => {
  const { client, out: cout, hello } = clientHello();
  const { session, out } = serverSession();
  const step = (chunk: Buffer | undefined) =>
    new Promise<number>((resolve) => {
      const r = session.cycleAsync(chunk, chunk?.length, resolve);
      if (r !== -1) resolve(r);
    });
  let toServer: Buffer | undefined = hello;
  let serverSecure = false;
  let clientSecure = false;
  for (let i = 0; i < 10 && !(serverSecure && clientSecure); i++) {
    const sf = await step(toServer);
    toServer = undefined;
    if (sf & CycleFlag.Secure) serverSecure = true;
    assert.not.ok(sf & CycleFlag.Error, String(out[2]));
    if (!(sf & CycleFlag.EncOut)) continue;
    const enc = out[1]!;
    out[1] = undefined;
    const cf = client.cycle(enc);
    if (cf & CycleFlag.Secure) clientSecure = true;
    if (cf & CycleFlag.EncOut) {
      toServer = cout[1]!;
      cout[1] = undefined;
    }
  }
  // TLS 1.3: the client's Finished may still be on its way.
  if (toServer) serverSecure = Boolean((await step(toServer)) & CycleFlag.Secure) || serverSecure;
  assert.ok(serverSecure && clientSecure, 'both sides secure');
  assert.ok(client.write('over records') & CycleFlag.EncOut);
  const flags = session.cycle(cout[1]!);
  assert.ok(flags & CycleFlag.ClearOut);
  assert.is(out[0]!.toString(), 'over records');
  session.free();
  client.free();
});

Native('an offloaded step that fails reports the OpenSSL error from the worker', async () => {
  const { session, out } = serverSession();
  const junk = Buffer.alloc(64, 0x16);
  // A handshake record whose message type (22) does not exist.
  junk.writeUInt16BE(0x0301, 1);
  junk.writeUInt16BE(junk.length - 5, 3);
  const flags = await new Promise<number>((resolve) => {
    const r = session.cycleAsync(junk, junk.length, resolve);
    if (r !== -1) resolve(r);
  });
  assert.ok(flags & CycleFlag.Error);
  const err = out[2] as Error & { code?: string; reason?: string; opensslStack?: string[] };
  assert.is(err.code, 'ERR_TLS_HANDSHAKE');
  assert.type(err.reason, 'string', 'the reason came over from the worker thread');
  assert.ok(err.opensslStack!.length > 0);
  session.free();
});

Native('a context with a JS callback stays on the loop thread', () => {
  const { hello } = clientHello();
  const { session } = serverSession(true);
  const flags = session.cycleAsync(hello, hello.length, () => assert.unreachable('no callback for a synchronous step'));
  assert.ok(flags >= 0, 'ran synchronously');
  assert.ok(flags & CycleFlag.EncOut, 'ServerHello written');
  session.free();
});

Native.run();

// ---------------------------------------------------------------------------
for (const transport of TRANSPORTS) {
  for (const v of VERSIONS) {
    const Interop = suite(`handshake offload [${transport}]: interop ${v.name}`);

    Interop('openssl s_client <-> offloading rxtls server', async () => {
      const srv = await pongServer(transport);
      try {
        const r = await runSClient(srv.port, [v.openssl, '-CAfile', pki().file('ca', 'crt'), '-verify_return_error', '-servername', 'localhost', '-ign_eof'], 'ping\n');
        assert.match(r.stdout, 'pong:ping');
        assert.match(r.stdout, `Protocol  : ${v.name}`);
        assert.match(r.stdout, 'Verify return code: 0 (ok)');
        assert.equal(codes(srv.errors), []);
      } finally {
        await srv.close();
      }
    });

    Interop('node:tls client <-> offloading rxtls server', async () => {
      const srv = await pongServer(transport);
      try {
        const c = nodeClient(srv.port, 'ping', { minVersion: v.node, maxVersion: v.node });
        assert.is(await withTimeout(c.reply, 10_000, 'node client'), 'pong:ping');
        assert.is(c.socket.getProtocol(), v.name);
        assert.equal(codes(srv.errors), []);
      } finally {
        await srv.close();
      }
    });

    Interop('rxtls client (also offloading) <-> offloading rxtls server, client certificate verified on the pool', async () => {
      let serverView: { protocol: string | null; peer: string | undefined } | undefined;
      const srv = await startOffloadServer(
        transport,
        { cert: pki().server.cert, key: pki().server.key, ca: pki().ca.cert, requestCert: true, handshakeOffload: true },
        (c) => {
          c.onsecure = () => (serverView = { protocol: c.info().protocol, peer: c.peerCertificate()?.subject.CN as string | undefined });
          pong(c);
        },
      );
      try {
        const ctx = new TLSClientContext();
        ctx.set_verify_locations(pki().ca.cert);
        ctx.set_protocol_versions(0, v.cap);
        ctx.load_certs(pki().client.cert, pki().client.key);
        const c = await secure(connectOn(transport, { host: 'localhost', port: srv.port, context: ctx, handshakeOffload: true }));
        assert.is(c.info().protocol, v.name);
        const done = outcome(c);
        c.write('ping');
        const result = await done;
        assert.is(result.data.toString(), 'pong:ping');
        assert.ok(result.clean);
        assert.equal(serverView, { protocol: v.name, peer: 'rxtls test client' });
      } finally {
        await srv.close();
      }
    });

    Interop('a client certificate that fails verification fails the handshake with its verify result', async () => {
      const srv = await startOffloadServer(
        transport,
        { cert: pki().server.cert, key: pki().server.key, ca: pki().ca.cert, requestCert: true, handshakeOffload: true },
        () => {},
      );
      try {
        const ctx = new TLSClientContext();
        ctx.set_verify_locations(pki().ca.cert);
        ctx.set_protocol_versions(0, v.cap);
        ctx.load_certs(pki().selfSigned.cert, pki().selfSigned.key);
        // TLS 1.3: the client learns after its Finished; either way it closes.
        await outcome(connectOn(transport, { host: 'localhost', port: srv.port, context: ctx }), 10_000);
        await withTimeout((async () => { while (srv.errors.length === 0) await sleep(10); })(), 5_000, 'server error');
        const err = srv.errors[0] as TlsError & { verifyCode?: number };
        assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
        assert.type(err.verifyCode, 'number');
      } finally {
        await srv.close();
      }
    });

    Interop.run();
  }
}

// ---------------------------------------------------------------------------
for (const transport of TRANSPORTS) {
  const Pool = suite(`handshake offload [${transport}]: the steps run on the pool`);

  Pool('a server handshake waits while every pool thread is held, then completes', async () => {
    const srv = await pongServer(transport);
    const pool = blockPool();
    const c = nodeClient(srv.port, 'ping');
    try {
      await sleep(300);
      assert.not.ok(c.secure(), 'a handshake completed with the pool held: its steps ran on the loop thread');
      await pool.release();
      assert.is(await withTimeout(c.reply, 10_000, 'echo'), 'pong:ping');
      assert.equal(codes(srv.errors), []);
    } finally {
      await pool.release();
      c.socket.destroy();
      await srv.close();
    }
  });

  Pool("an offloading client's steps wait for the pool too; its queries throw ERR_TLS_STATE meanwhile", async () => {
    const server = tls.createServer({ cert: pki().server.cert, key: pki().server.key }, (s) => {
      s.on('data', (d) => s.end(`pong:${d}`));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const pool = blockPool();
    try {
      const c = connectOn(transport, { host: '127.0.0.1', servername: 'localhost', verifyHost: 'localhost', port, ca: pki().ca.cert, handshakeOffload: true });
      await sleep(300);
      assert.not.ok(c.secure, 'the client finished its handshake with the pool held');
      assert.not.ok(c.closed, String(c.error));
      assert.throws(() => c.info(), (e: { code?: string }) => e.code === 'ERR_TLS_STATE');
      await pool.release();
      await secure(c);
      const done = outcome(c);
      c.write('ping');
      assert.is((await done).data.toString(), 'pong:ping');
    } finally {
      await pool.release();
      await new Promise((r) => server.close(r));
    }
  });

  Pool('a step queued while the previous flight is still being written (a peer that reads nothing) fails cleanly', async () => {
    // ~10 MB of certificate chain (60 copies of a certificate with 8,000 names): more than the
    // kernel takes from a peer that reads nothing, so the flight's write is still in progress.
    const filler = issueCertificate(pki().ca, { commonName: 'filler', altNames: Array.from({ length: 8000 }, (_, i) => `filler-${i}.example`) });
    const chain = pki().server.cert + filler.cert.repeat(60);
    const srv = await startOffloadServer(transport, { cert: chain, key: pki().server.key, handshakeOffload: true }, () => {});
    const socket = net.connect(srv.port, '127.0.0.1');
    socket.on('error', () => {});
    try {
      await withTimeout(new Promise((r) => socket.once('connect', r)), 5_000, 'connect');
      socket.pause();
      const { client, hello } = clientHello();
      client.free();
      socket.write(hello);
      await sleep(300);
      // A handshake record whose message type (22) does not exist: the next step fails.
      const junk = Buffer.alloc(64, 0x16);
      junk.writeUInt16BE(0x0303, 1);
      junk.writeUInt16BE(junk.length - 5, 3);
      socket.write(junk);
      await withTimeout((async () => { while (srv.errors.length === 0) await sleep(10); })(), 10_000, 'server error');
      assert.equal(codes(srv.errors), ['ERR_TLS_HANDSHAKE']);
      socket.resume();
      await withTimeout(new Promise((r) => (socket.destroyed ? r(undefined) : socket.once('close', r))), 10_000, 'closed by the server');
    } finally {
      socket.destroy();
      await srv.close();
    }
  });

  Pool('with a keylog and an SNI callback the handshake runs on the loop thread (it completes with the pool held) and both run', async () => {
    const lines: string[] = [];
    const names: string[] = [];
    const srv = await pongServer(transport, {
      keylog: (line: string) => lines.push(line),
      sniCallback: (name: string) => void names.push(name),
    });
    const pool = blockPool();
    try {
      const c = nodeClient(srv.port, 'ping');
      assert.is(await withTimeout(c.reply, 10_000, 'echo with the pool held'), 'pong:ping');
      assert.ok(lines.length > 0, 'keylog lines arrived');
      assert.equal(names, ['localhost']);
      assert.equal(codes(srv.errors), []);
    } finally {
      await pool.release();
      await srv.close();
    }
  });

  Pool('a throwing SNI callback fails that handshake (its error as the cause); the next one succeeds', async () => {
    const srv = await pongServer(transport, {
      sniCallback: (name: string) => {
        if (name === 'bad.test') throw new Error('no such name');
        return undefined;
      },
    });
    try {
      const bad = nodeClient(srv.port, 'ping', { servername: 'bad.test' });
      await withTimeout(bad.reply.then(() => assert.unreachable('the bad name got an answer'), () => undefined), 10_000, 'bad client');
      await withTimeout((async () => { while (srv.errors.length === 0) await sleep(10); })(), 5_000, 'server error');
      const err = srv.errors[0] as TlsError & { cause?: Error };
      assert.is(err.code, 'ERR_TLS_HANDSHAKE');
      assert.is(err.cause?.message, 'no such name');
      assert.is(await withTimeout(nodeClient(srv.port, 'ping').reply, 10_000, 'good client'), 'pong:ping');
      assert.is(srv.errors.length, 1);
    } finally {
      await srv.close();
    }
  });

  Pool.run();
}

// ---------------------------------------------------------------------------
// The load generator: a child process (its own loop and core) running
// node:tls clients, `concurrency` at a time, each a handshake, one byte each
// way and a close_notify. Prints {ok, errors, codes, seconds} as JSON.
const LOADGEN = `
const tls = require('node:tls');
const [port, total, concurrency, maxVersion] = process.argv.slice(1);
const n = Number(total);
let started = 0, finished = 0, ok = 0, errors = 0;
const codes = {};
function one() {
  if (started >= n) return;
  started++;
  let settled = false;
  const s = tls.connect({ host: '127.0.0.1', port: Number(port), ca: process.env.LOADGEN_CA, servername: 'localhost', maxVersion }, () => s.write('x'));
  const done = (err) => {
    if (settled) return;
    settled = true;
    if (err) { errors++; codes[err.code || err.message] = (codes[err.code || err.message] || 0) + 1; s.destroy(); }
    else ok++;
    if (++finished === n) process.stdout.write(JSON.stringify({ ok, errors, codes, seconds: (Date.now() - t0) / 1000 }));
    else one();
  };
  let echoed = false;
  s.once('data', () => { echoed = true; s.end(); });
  s.once('close', () => done(echoed ? undefined : new Error('closed before the echo')));
  s.on('error', done);
}
const t0 = Date.now();
for (let i = 0; i < Number(concurrency); i++) one();
`;

interface FloodResult {
  ok: number;
  errors: number;
  codes: Record<string, number>;
  serverErrors: string[];
  handshakes: number;
  seconds: number;
  delayP99: number;
  delayMax: number;
  cpuMs: number;
  loopUtilization: number;
}

async function flood(transport: Transport, offload: boolean, cert: { cert: string; key: string }, total: number, concurrency: number, maxVersion: string): Promise<FloodResult> {
  let handshakes = 0;
  const srv = await startOffloadServer(transport, { cert: cert.cert, key: cert.key, handshakeOffload: offload }, (c) => {
    c.onsecure = () => handshakes++;
    c.ondata = (chunk) => c.write(chunk);
  });
  try {
    const child = spawn(process.execPath, ['-e', LOADGEN, String(srv.port), String(total), String(concurrency), maxVersion], {
      env: { ...process.env, LOADGEN_CA: pki().ca.cert },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Measured from here: the spawn itself is loop work of the test, not of the server.
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    histogram.enable();
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.once('close', r));
    try {
      await withTimeout(exited, 50_000, 'load generator');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    histogram.disable();
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const r = JSON.parse(stdout) as { ok: number; errors: number; codes: Record<string, number>; seconds: number };
    // Let the last closes reach the server before reading its error count.
    await sleep(50);
    return {
      ...r,
      serverErrors: codes(srv.errors),
      handshakes,
      delayP99: histogram.percentile(99) / 1e6,
      delayMax: histogram.max / 1e6,
      cpuMs: (cpu.user + cpu.system) / 1000,
      loopUtilization: elu.utilization,
    };
  } finally {
    await srv.close();
  }
}

const Flood = suite('handshake offload: flood from a child process');
// Fewer under the sanitizers (scripts/asan.sh sets RXTLS_SANITIZED), which slow OpenSSL down.
const FLOOD_TOTAL = Number(process.env.RXTLS_OFFLOAD_FLOOD ?? (process.env.RXTLS_SANITIZED ? 100 : 300));
const FLOOD_CONCURRENCY = 50;

const keys = [
  { name: 'EC P-256', cert: () => pki().server },
  { name: 'RSA 2048', cert: () => issueCertificate(pki().ca, { commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], keyType: 'rsa' }) },
];

for (const key of keys) {
  Flood(`${FLOOD_TOTAL} handshakes (${key.name}, TLS 1.3) complete with zero errors on both transports; loop delay reported`, async () => {
    const cert = key.cert();
    const rows: Array<[string, FloodResult]> = [];
    for (const transport of TRANSPORTS) {
      for (const offload of [false, true]) {
        const r = await flood(transport, offload, cert, FLOOD_TOTAL, FLOOD_CONCURRENCY, 'TLSv1.3');
        rows.push([`${transport} ${offload ? 'offload' : 'loop thread'}`, r]);
        assert.is(r.errors, 0, `client errors: ${JSON.stringify(r.codes)}`);
        assert.is(r.ok, FLOOD_TOTAL);
        assert.is(r.handshakes, FLOOD_TOTAL);
        assert.equal(r.serverErrors, []);
      }
    }
    // A report, not an assertion: the machine is shared and timing is noise.
    console.log(`\n  flood: ${FLOOD_TOTAL} handshakes, ${FLOOD_CONCURRENCY} at a time, ${key.name}, TLS 1.3, node:tls clients in a child`);
    for (const [name, r] of rows)
      console.log(
        `  ${name.padEnd(19)} loop delay p99 ${r.delayP99.toFixed(1).padStart(6)} ms, max ${r.delayMax.toFixed(1).padStart(6)} ms; ` +
          `${(r.handshakes / r.seconds).toFixed(0).padStart(5)} handshakes/s; server CPU ${r.cpuMs.toFixed(0)} ms ` +
          `(loop utilisation ${(r.loopUtilization * 100).toFixed(0)}%)`,
      );
  });
}

Flood.run();

// ---------------------------------------------------------------------------
/** Runs `total` connections, `concurrency` at a time, each made by `start` and done when its promise settles. */
async function pool(total: number, concurrency: number, start: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await start(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** A node:tls client that sends its ClientHello and is destroyed after `delayMs`. */
function hitAndRun(port: number, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki().ca.cert });
    s.on('error', () => {});
    s.once('close', () => resolve());
    s.once('connect', () => {
      if (delayMs === 0) setImmediate(() => s.destroy());
      else setTimeout(() => s.destroy(), delayMs);
    });
  });
}

/** An offloading rxtls client of `transport`, destroyed after `delayMs` (its steps may be on the pool). */
function destroyedClient(transport: Transport, port: number, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    const c = connectOn(transport, { host: '127.0.0.1', servername: 'localhost', port, ca: pki().ca.cert, handshakeOffload: true });
    c.onclose = () => resolve();
    setTimeout(() => c.destroy(), delayMs);
  });
}

/** Waits until every connection the server's handler got has closed, then (unless told not to) checks that the server still serves. */
async function settle(transport: Transport, label: string, srv: OffloadServer, checkAfter = true): Promise<void> {
  await withTimeout((async () => { while (srv.closed < srv.opened) await sleep(10); })(), 15_000, `${label}: every connection closed`);
  if (!checkAfter) return;
  const c = await withTimeout(secure(connectOn(transport, { host: 'localhost', port: srv.port, ca: pki().ca.cert })), 10_000, `${label}: a good client`);
  const done = outcome(c);
  c.write('still here');
  c.end();
  assert.is((await done).data.toString(), 'still here');
}

for (const transport of TRANSPORTS) {
  const Abort = suite(`handshake offload [${transport}]: connections that die mid-handshake`);
  const options = { cert: pki().server.cert, key: pki().server.key, handshakeOffload: true };
  // Every native connection is freed once its server closed (a deferred free that never ran would show here).
  if (transport === 'native')
    Abort.after.each(async () => {
      // 'close' is emitted from inside the server core's last callback, which frees it on return.
      await new Promise((r) => setImmediate(r));
      const live = binding.debugCounters() as Record<string, number>;
      assert.is(live['TcpConnection'] ?? 0, 0, 'native connections left');
      assert.is(live['TcpServer'] ?? 0, 0, 'native servers left');
    });

  Abort('clients disconnect while steps run (200 connections)', async () => {
    const srv = await startOffloadServer(transport, options);
    try {
      const delays = [0, 0, 1, 2];
      await withTimeout(pool(200, 20, (i) => hitAndRun(srv.port, delays[i % delays.length]!)), 30_000, 'clients');
      await settle(transport, 'client disconnects', srv);
    } finally {
      await srv.close();
    }
  });

  Abort('offloading clients destroyed while their steps run (200 connections)', async () => {
    const srv = await startOffloadServer(transport, options);
    try {
      const delays = [0, 1, 2, 3];
      await withTimeout(pool(200, 20, (i) => destroyedClient(transport, srv.port, delays[i % delays.length]!)), 30_000, 'clients');
      await settle(transport, 'clients destroyed', srv);
    } finally {
      await srv.close();
    }
  });

  if (transport === 'js')
    Abort('the server destroys engines while steps run (200 connections)', async () => {
      let destroying = true;
      // The handler runs at accept on the JS transport: each engine is destroyed a few ms into its handshake.
      const srv = await startOffloadServer(transport, options, (c) => {
        c.ondata = (d) => c.write(d);
        if (destroying) setTimeout(() => c.destroy(), Math.floor(Math.random() * 3));
      });
      try {
        await withTimeout(pool(200, 20, () => hitAndRun(srv.port, 5)), 30_000, 'clients');
        destroying = false;
        await settle(transport, 'server destroys', srv);
      } finally {
        await srv.close();
      }
    });
  else
    Abort("shutdown(0) while steps are queued destroys every connection; 'close' follows once the steps are back", async () => {
      const srv = await pongServer(transport);
      const held = blockPool();
      const clients = Array.from({ length: 10 }, () => nodeClient(srv.port, 'ping'));
      try {
        await Promise.all(clients.map((c) => new Promise((r) => c.socket.once('connect', r))));
        await sleep(100);
        const closed = srv.shutdownNow();
        closed.catch(() => {}); // awaited below; not unhandled if an assertion fails first
        await sleep(50);
        await held.release();
        await closed;
        for (const c of clients) assert.is(await withTimeout(c.reply.catch(() => ''), 10_000, 'client closed'), '', 'served after shutdown(0)');
      } finally {
        await held.release();
        for (const c of clients) c.socket.destroy();
      }
    });

  Abort('the handshake timeout fires while steps run (200 connections)', async () => {
    const srv = await startOffloadServer(transport, { ...options, handshakeTimeout: 1 });
    try {
      await withTimeout(pool(200, 20, () => hitAndRun(srv.port, 5)), 30_000, 'clients');
      await settle(transport, 'timeouts', srv, false);
    } finally {
      await srv.close();
    }
  });

  Abort("the server closes while steps are queued: they complete, then 'close'", async () => {
    const srv = await pongServer(transport);
    const held = blockPool();
    const clients = Array.from({ length: 10 }, () => nodeClient(srv.port, 'ping'));
    try {
      // The ClientHellos arrive and their steps queue behind the held threads.
      await Promise.all(clients.map((c) => new Promise((r) => c.socket.once('connect', r))));
      await sleep(100);
      const closed = srv.close();
      closed.catch(() => {}); // awaited below; not unhandled if an assertion fails first
      await held.release();
      for (const c of clients) assert.is(await withTimeout(c.reply, 10_000, 'echo'), 'pong:ping');
      await closed;
      assert.equal(codes(srv.errors), []);
    } finally {
      await held.release();
      for (const c of clients) c.socket.destroy();
    }
  });

  Abort.run();
}

// ---------------------------------------------------------------------------
const Teardown = suite('handshake offload [native]: environment and process teardown');

Teardown('a worker terminated while its steps are queued on the pool: no crash, its clients see the close', async () => {
  const peer = fileURLToPath(new URL('./fixtures/native-transport-peer.mjs', import.meta.url));
  const worker = new Worker(peer, { argv: ['worker', 'offload'] });
  const port = await withTimeout(new Promise<number>((r) => worker.once('message', (m: { port: number }) => r(m.port))), 20_000, 'worker listening');
  const held = blockPool();
  const clients = Array.from({ length: 10 }, () => nodeClient(port, 'ping'));
  try {
    await Promise.all(clients.map((c) => new Promise((r) => c.socket.once('connect', r))));
    await sleep(100);
    const terminated = worker.terminate();
    terminated.catch(() => {}); // awaited below; not unhandled if an assertion fails first
    await sleep(100);
    await held.release();
    assert.is(await withTimeout(terminated, 20_000, 'terminate'), 1);
    for (const c of clients) assert.is(await withTimeout(c.reply.catch(() => ''), 10_000, 'client closed'), '', 'served by a terminated worker');
  } finally {
    await held.release();
    for (const c of clients) c.socket.destroy();
    await worker.terminate();
  }
});

Teardown('process.exit() while steps are in flight: exit code 0, nothing on stderr', async () => {
  const script = `
    import * as tls from 'node:tls';
    import { createTlsServer } from '@rxtls/core';
    const [cert, key, delay] = [process.env.EXIT_CERT, process.env.EXIT_KEY, Number(process.argv[1])];
    const server = createTlsServer({ cert, key, transport: 'native', handshakeOffload: true }, (c) => void (c.ondata = (d) => c.write(d)));
    server.listen(0, '127.0.0.1', () => {
      for (let i = 0; i < 100; i++) tls.connect({ host: '127.0.0.1', port: server.address().port, rejectUnauthorized: false }).on('error', () => {});
      setTimeout(() => process.exit(0), delay);
    });`;
  for (const delay of [5, 30, 80]) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, String(delay)], {
      env: { ...process.env, EXIT_CERT: pki().server.cert, EXIT_KEY: pki().server.key },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const [code, signal] = await withTimeout(new Promise<[number | null, string | null]>((r) => child.once('close', (c, s) => r([c, s]))), 20_000, 'child exit');
    assert.is(signal, null, stderr);
    assert.is(code, 0, stderr);
    assert.is(stderr, '');
  }
});

Teardown.run();
