// handshakeOffload: a server's handshake steps run on libuv's thread pool.
// Real peers (openssl s_client, node:tls, rxtls; TLS 1.2 and 1.3) complete
// handshakes and exchange data; a flood from a child process completes with
// zero errors, and the loop's worst event delay during it is printed beside
// the synchronous path's (a report, not an assertion); connections that die
// while a step is in flight do not crash or leak a session.
import { spawn } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { createTlsServer, issueCertificate, TLSClientContext, type TlsEngine } from '@rxtls/core';
import { binding, CycleFlag, type NativeSession, type SessionOut } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { collect, connect } from '../helpers/engine.js';
import { sleep, withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const { TLS_client_method, TLS_server_method } = binding.methods;

const VERSIONS = [
  { name: 'TLSv1.2', openssl: '-tls1_2', node: 'TLSv1.2' as const, cap: 0x0303 },
  { name: 'TLSv1.3', openssl: '-tls1_3', node: 'TLSv1.3' as const, cap: 0x0304 },
];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const close = (server: Server) => new Promise<void>((r) => server.close(() => r()));

/** Steps that really went to the thread pool (cycleAsync returned -1), over every spied engine. */
let offloadedSteps = 0;

/**
 * Counts an engine's offloaded steps. Call before data can arrive (in the
 * server's connection callback). The addon's methods are read-only on the
 * prototype, so the spy is an own property of the engine's native session.
 */
function spy(engine: TlsEngine): void {
  const session = (engine as unknown as { session_: NativeSession }).session_;
  const original = session.cycleAsync;
  Object.defineProperty(session, 'cycleAsync', {
    value: (...args: Parameters<NativeSession['cycleAsync']>) => {
      const r = original.apply(session, args);
      if (r === -1) offloadedSteps++;
      return r;
    },
  });
}

/** An offloading echo server: answers "pong:<data>" and ends. */
function pongServer(extra: Record<string, unknown> = {}): { server: Server; errors: string[] } {
  const errors: string[] = [];
  const server = createTlsServer({ transport: 'js', cert: pki().server.cert, key: pki().server.key, handshakeOffload: true, ...extra }, (engine) => {
    spy(engine);
    engine.onerror = (err) => errors.push(`${err.code}: ${err.message}`);
    engine.ondata = (chunk) => {
      engine.write(Buffer.concat([Buffer.from('pong:'), chunk]));
      engine.end();
    };
  });
  return { server, errors };
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
for (const v of VERSIONS) {
  const Interop = suite(`handshake offload: interop ${v.name}`);
  Interop.before(() => void (offloadedSteps = 0));

  Interop('openssl s_client <-> offloading rxtls server', async () => {
    const { server, errors } = pongServer();
    const port = await listen(server);
    try {
      const r = await runSClient(port, [v.openssl, '-CAfile', pki().file('ca', 'crt'), '-verify_return_error', '-servername', 'localhost', '-ign_eof'], 'ping\n');
      assert.match(r.stdout, 'pong:ping');
      assert.match(r.stdout, `Protocol  : ${v.name}`);
      assert.match(r.stdout, 'Verify return code: 0 (ok)');
      assert.equal(errors, []);
    } finally {
      await close(server);
    }
  });

  Interop('node:tls client <-> offloading rxtls server', async () => {
    const { server, errors } = pongServer();
    const port = await listen(server);
    try {
      const result = await withTimeout(
        new Promise<{ text: string; protocol: string | null }>((resolve, reject) => {
          const sock = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki().ca.cert, minVersion: v.node, maxVersion: v.node }, () => {
            sock.write('ping');
          });
          let text = '';
          sock.on('data', (d) => (text += d));
          sock.on('end', () => resolve({ text, protocol: sock.getProtocol() }));
          sock.on('error', reject);
        }),
        10_000,
        'node client',
      );
      assert.is(result.text, 'pong:ping');
      assert.is(result.protocol, v.name);
      assert.equal(errors, []);
    } finally {
      await close(server);
    }
  });

  Interop('rxtls client (also offloading) <-> offloading rxtls server, client certificate verified on the pool', async () => {
    let serverView: { protocol: string | null; peer: string | undefined } | undefined;
    const server = createTlsServer(
      { transport: 'js', cert: pki().server.cert, key: pki().server.key, ca: pki().ca.cert, requestCert: true, handshakeOffload: true },
      (engine) => {
        spy(engine);
        engine.onsecure = () =>
          (serverView = { protocol: engine.info().protocol, peer: engine.peerCertificate()?.subject.CN as string | undefined });
        engine.ondata = (chunk) => {
          engine.write(Buffer.concat([Buffer.from('pong:'), chunk]));
          engine.end();
        };
      },
    );
    const port = await listen(server);
    try {
      const ctx = new TLSClientContext();
      ctx.set_verify_locations(pki().ca.cert);
      ctx.set_protocol_versions(0, v.cap);
      ctx.load_certs(pki().client.cert, pki().client.key);
      const engine = await withTimeout(connect({ transport: 'js', host: 'localhost', port, context: ctx, handshakeOffload: true }), 10_000, 'connect');
      assert.is(engine.info().protocol, v.name);
      const done = collect(engine);
      engine.write('ping');
      const result = await withTimeout(done, 10_000, 'collect');
      assert.is(result.data.toString(), 'pong:ping');
      assert.ok(result.clean);
      assert.equal(serverView, { protocol: v.name, peer: 'rxtls test client' });
    } finally {
      await close(server);
    }
  });

  Interop('a client certificate that fails verification fails the handshake with its verify result', async () => {
    const errors: Array<{ code?: string; verifyCode?: number }> = [];
    const server = createTlsServer(
      { transport: 'js', cert: pki().server.cert, key: pki().server.key, ca: pki().ca.cert, requestCert: true, handshakeOffload: true },
      (engine) => void (engine.onerror = (err) => errors.push(err as { code?: string; verifyCode?: number })),
    );
    const port = await listen(server);
    try {
      const ctx = new TLSClientContext();
      ctx.set_verify_locations(pki().ca.cert);
      ctx.set_protocol_versions(0, v.cap);
      ctx.load_certs(pki().selfSigned.cert, pki().selfSigned.key);
      const engine = connect({ transport: 'js', host: 'localhost', port, context: ctx });
      await withTimeout(engine.then(
        (e) => new Promise((r) => (e.onclose = r)), // TLS 1.3: the client learns after its Finished
        () => undefined,
      ), 10_000, 'client outcome');
      await withTimeout((async () => { while (errors.length === 0) await sleep(10); })(), 5_000, 'server error');
      assert.is(errors[0]!.code, 'ERR_TLS_CERT_VERIFY');
      assert.type(errors[0]!.verifyCode, 'number');
    } finally {
      await close(server);
    }
  });

  Interop('the steps above ran on the thread pool', () => {
    assert.ok(offloadedSteps >= 2, `cycleAsync went to the pool ${offloadedSteps} times`);
  });

  Interop.run();
}

// ---------------------------------------------------------------------------
const Fallback = suite('handshake offload: JS callbacks');

Fallback('with a keylog and an SNI callback the handshake runs on the loop thread and both run', async () => {
  const lines: string[] = [];
  const names: string[] = [];
  const { server, errors } = pongServer({
    keylog: (line: string) => lines.push(line),
    sniCallback: (name: string) => void names.push(name),
  });
  const port = await listen(server);
  offloadedSteps = 0;
  try {
    const engine = await withTimeout(connect({ transport: 'js', host: 'localhost', port, ca: pki().ca.cert }), 10_000, 'connect');
    const done = collect(engine);
    engine.write('ping');
    assert.is((await withTimeout(done, 10_000, 'collect')).data.toString(), 'pong:ping');
    assert.ok(lines.length > 0, 'keylog lines arrived');
    assert.equal(names, ['localhost']);
    assert.is(offloadedSteps, 0, 'nothing went to the pool');
    assert.equal(errors, []);
  } finally {
    await close(server);
  }
});

Fallback.run();

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

async function flood(offload: boolean, cert: { cert: string; key: string }, total: number, concurrency: number, maxVersion: string): Promise<FloodResult> {
  const serverErrors: string[] = [];
  let handshakes = 0;
  const server = createTlsServer({ transport: 'js', cert: cert.cert, key: cert.key, handshakeOffload: offload }, (engine) => {
    engine.onsecure = () => handshakes++;
    engine.ondata = (chunk) => engine.write(chunk);
    engine.onerror = (err) => serverErrors.push(err.code);
  });
  const port = await listen(server);
  try {
    const child = spawn(process.execPath, ['-e', LOADGEN, String(port), String(total), String(concurrency), maxVersion], {
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
      serverErrors,
      handshakes,
      delayP99: histogram.percentile(99) / 1e6,
      delayMax: histogram.max / 1e6,
      cpuMs: (cpu.user + cpu.system) / 1000,
      loopUtilization: elu.utilization,
    };
  } finally {
    await close(server);
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
  Flood(`${FLOOD_TOTAL} handshakes (${key.name}, TLS 1.3) complete with zero errors; loop delay reported`, async () => {
    const cert = key.cert();
    const rows: Array<[string, FloodResult]> = [];
    for (const offload of [false, true]) {
      const r = await flood(offload, cert, FLOOD_TOTAL, FLOOD_CONCURRENCY, 'TLSv1.3');
      rows.push([offload ? 'offload' : 'loop thread', r]);
      assert.is(r.errors, 0, `client errors: ${JSON.stringify(r.codes)}`);
      assert.is(r.ok, FLOOD_TOTAL);
      assert.is(r.handshakes, FLOOD_TOTAL);
      assert.equal(r.serverErrors, []);
    }
    // A report, not an assertion: the machine is shared and timing is noise.
    console.log(`\n  flood: ${FLOOD_TOTAL} handshakes, ${FLOOD_CONCURRENCY} at a time, ${key.name}, TLS 1.3, node:tls clients in a child`);
    for (const [name, r] of rows)
      console.log(
        `  ${name.padEnd(12)} loop delay p99 ${r.delayP99.toFixed(1).padStart(6)} ms, max ${r.delayMax.toFixed(1).padStart(6)} ms; ` +
          `${(r.handshakes / r.seconds).toFixed(0).padStart(5)} handshakes/s; server CPU ${r.cpuMs.toFixed(0)} ms ` +
          `(loop utilisation ${(r.loopUtilization * 100).toFixed(0)}%)`,
      );
  });
}

Flood.run();

// ---------------------------------------------------------------------------
const Abort = suite('handshake offload: connections that die mid-handshake');

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

async function abortRound(
  label: string,
  serverOptions: Record<string, unknown>,
  onEngine: (e: TlsEngine) => void,
  delays: number[],
  checkAfter = true,
  beforeCheck: () => void = () => {},
): Promise<void> {
  let opened = 0;
  let closed = 0;
  const server = createTlsServer({ transport: 'js', cert: pki().server.cert, key: pki().server.key, handshakeOffload: true, ...serverOptions }, (engine) => {
    opened++;
    engine.onclose = () => void closed++;
    engine.ondata = (c) => engine.write(c);
    onEngine(engine);
  });
  const port = await listen(server);
  try {
    await withTimeout(pool(200, 20, (i) => hitAndRun(port, delays[i % delays.length]!)), 30_000, `${label}: clients`);
    await withTimeout((async () => { while (closed < opened) await sleep(10); })(), 15_000, `${label}: every engine closed`);
    assert.ok(opened > 0);
    if (!checkAfter) return;
    beforeCheck();
    // The server still works.
    const engine = await withTimeout(connect({ transport: 'js', host: 'localhost', port, ca: pki().ca.cert }), 10_000, `${label}: a good client`);
    const done = collect(engine);
    engine.write('still here');
    engine.end();
    assert.is((await withTimeout(done, 10_000, 'echo')).data.toString(), 'still here');
  } finally {
    await close(server);
  }
}

Abort('clients disconnect while steps run (200 connections)', async () => {
  await abortRound('client disconnects', {}, () => {}, [0, 0, 1, 2]);
});

Abort('the server destroys engines while steps run (200 connections)', async () => {
  let destroying = true;
  await abortRound('server destroys', {}, (e) => {
    if (!destroying) return;
    const delay = Math.floor(Math.random() * 3);
    setTimeout(() => e.destroy(), delay);
  }, [5], true, () => void (destroying = false));
});

Abort('the handshake timeout fires while steps run (200 connections)', async () => {
  await abortRound('timeouts', { handshakeTimeout: 1 }, () => {}, [5], false);
});

Abort.run();
