// Leaks: many handshake-transfer-close cycles in one process, then GC: heap
// and RSS grow less than 20 MiB and the native live-object counters return to
// zero.
//
// Two parts:
// - memory sessions (no sockets; the only way 100,000 cycles fit a test run
//   on two cores): context reuse, a handshake, a small echo both ways,
//   close_notify both ways, free. A full handshake costs ~1 ms of OpenSSL 3
//   time and a resumed TLS 1.2 one ~0.25 ms, so every 50th handshake is full
//   (TLS 1.3 and 1.2 in turn, certificate and host verified, peer certificate
//   read: 2,000 of them), every 10th of the others resumes TLS 1.3 and the
//   rest resume TLS 1.2; each path runs thousands of times;
// - real sockets on the native transport (the default): 20,000 connections
//   opened and closed against one NativeTlsServer, each a handshake, an echo
//   and close_notify, with RSS and the process's open descriptors checked
//   flat;
// - real sockets on the JS transport: connections through
//   createTlsServer/connectTls with `transport: 'js'` (TlsEngine);
// - the fd-based objects (SSL on a duplicated descriptor, SSLBIO chains):
//   made and freed, with the process's descriptor count checked too.
//
// Knobs: RXTLS_LEAK_CYCLES (default 100000), RXTLS_LEAK_NATIVE_CONNECTIONS
// (default 20000), RXTLS_LEAK_CONNECTIONS (JS transport, default 2000),
// RXTLS_LEAK_FD_OBJECTS (default 5000).
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { readdirSync } from 'node:fs';
import { createServer, type Socket as NetSocket } from 'node:net';

import {
  BIO_NOCLOSE,
  ConnectBIO,
  connectTls,
  createTlsServer,
  Socket,
  SSL,
  SSLBIO,
  TLSClientContext,
  type SecureConnection,
  type TlsEngine,
} from '@rxtls/core';
import { binding, type NativeContext } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { clientContext, pump, serverContext, take, type Side } from './lib/memory.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CYCLES = Number(process.env.RXTLS_LEAK_CYCLES ?? 100_000);
const CONNECTIONS = Number(process.env.RXTLS_LEAK_CONNECTIONS ?? 2_000);
const NATIVE_CONNECTIONS = Number(process.env.RXTLS_LEAK_NATIVE_CONNECTIONS ?? 20_000);
const FD_OBJECTS = Number(process.env.RXTLS_LEAK_FD_OBJECTS ?? 5_000);
const openDescriptors = () => readdirSync('/proc/self/fd').length;
const MiB = 1024 * 1024;
const LIMIT_MIB = 20;
const sanitized = Boolean(process.env.RXTLS_SANITIZED);

const live = () => binding.debugCounters();
const totalLive = () => Object.values(live()).reduce((a, b) => a + b, 0);

/** Collects until the native counters stop falling (wrappers are finalised on later turns). */
async function settle(): Promise<void> {
  let before = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
    const now = totalLive();
    if (now === 0 || (now === before && i >= 3)) break;
    before = now;
  }
  gc();
}

interface Usage {
  heap: number;
  rss: number;
}
const usage = (): Usage => {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
};
const growth = (a: Usage, b: Usage) => ({ heap: (b.heap - a.heap) / MiB, rss: (b.rss - a.rss) / MiB });
const fmt = (mib: number) => `${mib >= 0 ? '+' : ''}${mib.toFixed(1)} MiB`;

function checkGrowth(label: string, before: Usage, after: Usage): void {
  const g = growth(before, after);
  console.log(`${label}: heap ${fmt(g.heap)}, RSS ${fmt(g.rss)} (limit ${LIMIT_MIB} MiB); live native objects ${JSON.stringify(live())}`);
  assert.ok(g.heap < LIMIT_MIB, `${label}: heap grew ${g.heap.toFixed(1)} MiB`);
  // ASan's quarantine holds freed memory: RSS means nothing under the sanitizer.
  if (!sanitized) assert.ok(g.rss < LIMIT_MIB, `${label}: RSS grew ${g.rss.toFixed(1)} MiB`);
}

const Leaks = suite('leaks');

/** Runs the memory cycles; its contexts are unreferenced once it returns. */
async function memoryCycles(): Promise<void> {
  const server = serverContext();
  const clients: NativeContext[] = [clientContext(), clientContext(0x0303)];
  const saved: (Buffer | null)[] = [null, null];
  const message = Buffer.from('ping: a small transfer each way, then close_notify both ways');
  let full = 0;
  let resumed = 0;

  const cycle = (i: number): void => {
    const isFull = i % 50 === 0;
    // 0: TLS 1.3, 1: TLS 1.2
    const version = isFull ? (i / 50) & 1 : i % 10 === 1 ? 0 : 1;
    const resume = !isFull && saved[version] !== null;
    const cOut: Side['out'] = [undefined, undefined, undefined];
    const sOut: Side['out'] = [undefined, undefined, undefined];
    const c: Side = {
      session: new binding.Session(clients[version]!, false, cOut, {
        servername: 'localhost',
        verifyHost: 'localhost',
        ...(resume ? { session: saved[version]! } : {}),
      }),
      out: cOut, clear: [], secure: false, peerClosed: false, error: undefined,
    };
    const s: Side = { session: new binding.Session(server, true, sOut), out: sOut, clear: [], secure: false, peerClosed: false, error: undefined };
    pump(c, s);
    if (!c.secure || !s.secure) throw new Error(`cycle ${i}: handshake failed: ${String(c.error ?? s.error)}`);
    if (resume) {
      if (!c.session.info().resumed) throw new Error(`cycle ${i}: session was not resumed`);
      resumed++;
    } else {
      full++;
      if (c.session.peerCertificate() === null) throw new Error(`cycle ${i}: no peer certificate`);
      saved[version] = c.session.getSession();
    }
    pump(c, s, take(c, c.session.write(message)));
    pump(s, c, take(s, s.session.write(Buffer.concat(s.clear))));
    if (!Buffer.concat(c.clear).equals(message)) throw new Error(`cycle ${i}: echo differs`);
    pump(c, s, take(c, c.session.shutdown()));
    pump(s, c, take(s, s.session.shutdown()));
    if (!c.peerClosed || !s.peerClosed) throw new Error(`cycle ${i}: close_notify did not arrive both ways`);
    c.session.free();
    s.session.free();
  };

  // Warm up: allocator arenas, OpenSSL's method caches, the saved sessions.
  const warm = Math.min(2_000, Math.max(20, CYCLES / 50));
  for (let i = 0; i < warm; i++) cycle(i);
  full = resumed = 0;
  await settle();
  const before = usage();
  const started = Date.now();
  for (let i = 0; i < CYCLES; i++) {
    cycle(i);
    // Let finalisers run now and then, as a server's idle moments would.
    if (i % 5_000 === 4_999) await new Promise((r) => setImmediate(r));
  }
  const seconds = (Date.now() - started) / 1000;
  await settle();
  const after = usage();
  console.log(`memory: ${CYCLES} cycles (${full} full handshakes, ${resumed} resumed) in ${seconds.toFixed(1)} s`);
  checkGrowth('memory sessions', before, after);
  assert.is(live().Session, 0, 'every native Session released');
  server.free();
  for (const c of clients) c.free();
}

Leaks(`${CYCLES} handshake-transfer-close cycles over memory sessions leak nothing`, async () => {
  await settle();
  const contextsBefore = live().Context ?? 0;
  await memoryCycles();
  // The contexts go too, once freed and unreferenced.
  await settle();
  assert.is(live().Context ?? 0, contextsBefore, `contexts released: ${JSON.stringify(live())}`);
});

/** One connection: a handshake, `payload` echoed, close_notify both ways. */
function echoOnce(connection: SecureConnection, payload: Buffer, done: (err?: Error) => void): void {
  let got = 0;
  let clean = false;
  connection.onsecure = () => connection.write(payload);
  connection.ondata = (chunk) => {
    got += chunk.length;
    if (got === payload.length) connection.end();
  };
  connection.onend = () => (clean = true);
  connection.onclose = (err) => {
    if (err) done(err);
    else if (got !== payload.length) done(new Error(`echo: ${got} of ${payload.length} bytes`));
    else if (!clean) done(new Error('no close_notify from the server'));
    else done();
  };
}

/** Runs `count` calls of `one`, `inFlight` at a time. */
async function inTurn(count: number, inFlight: number, one: () => Promise<void>, ms: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await withTimeout(Promise.all(Array.from({ length: inFlight }, worker)), ms, `${count} connections`);
}

Leaks(`${NATIVE_CONNECTIONS} native-transport connections opened and closed against one server leak nothing, descriptors included`, async () => {
  const { cert, key } = pki().server;
  let serverSide = 0;
  const server = createTlsServer({ cert, key }, (c) => {
    serverSide++;
    c.ondata = (chunk) => c.write(chunk);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = server.address()!.port;
  const context = new TLSClientContext();
  context.set_verify_locations(pki().ca.cert);
  const payload = Buffer.alloc(1024, 'x');
  let open = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      open++;
      echoOnce(connectTls({ host: '127.0.0.1', servername: 'localhost', port, context }), payload, (err) => {
        open--;
        if (err) reject(err);
        else resolve();
      });
    });
  // The server's side of the last connections may close a moment after the client's.
  const drained = () =>
    withTimeout(
      (async () => {
        while (server.connections > 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      10_000,
      'server connections closed',
    );
  try {
    // Warm up: the allocator's and V8's high-water mark, as for the JS transport below.
    const warm = Math.min(4_000, Math.max(100, NATIVE_CONNECTIONS / 5));
    // 32 in flight: the loop stays busy across the round trips of one process serving both ends.
    await inTurn(warm, 32, one, 120_000);
    await drained();
    await settle();
    const before = usage();
    const fdsBefore = openDescriptors();
    const started = Date.now();
    await inTurn(NATIVE_CONNECTIONS, 32, one, 240_000);
    const seconds = (Date.now() - started) / 1000;
    await drained();
    await settle();
    const after = usage();
    const fdsAfter = openDescriptors();
    console.log(`native sockets: ${NATIVE_CONNECTIONS} connections in ${seconds.toFixed(1)} s; descriptors ${fdsBefore} -> ${fdsAfter}`);
    checkGrowth('native socket connections', before, after);
    assert.is(open, 0);
    assert.is(serverSide, warm + NATIVE_CONNECTIONS, 'the server saw every connection');
    assert.is(fdsAfter, fdsBefore, 'every socket descriptor closed');
    assert.is(live().TcpConnection ?? 0, 0, 'every native TCP connection released');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    context.free();
  }
});

Leaks(`${CONNECTIONS} TLS connections through TlsEngine (the JS transport) leak nothing`, async () => {
  const { cert, key } = pki().server;
  const engines = new Set<TlsEngine>();
  const server = createTlsServer({ transport: 'js', cert, key }, (engine) => {
    engine.ondata = (chunk) => engine.write(chunk);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const context = new TLSClientContext();
  context.set_verify_locations(pki().ca.cert);
  const payload = Buffer.alloc(1024, 'x');

  const one = () =>
    new Promise<void>((resolve, reject) => {
      const engine = connectTls({ transport: 'js', host: 'localhost', port, context });
      engines.add(engine);
      let got = 0;
      let clean = false;
      engine.onsecure = () => engine.write(payload);
      engine.ondata = (chunk) => {
        got += chunk.length;
        if (got === payload.length) engine.end();
      };
      engine.onend = () => (clean = true);
      engine.onclose = (err) => {
        engines.delete(engine);
        if (err) reject(err);
        else if (got !== payload.length) reject(new Error(`echo: ${got} of ${payload.length} bytes`));
        else if (!clean) reject(new Error('no close_notify from the server'));
        else resolve();
      };
    });

  // A few at a time, as many in flight as two cores serve well.
  const run = async (count: number) => {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        await one();
      }
    };
    await withTimeout(Promise.all(Array.from({ length: 8 }, worker)), 120_000, `${count} connections`);
  };
  try {
    // Warm up twice as many: RSS climbs to the allocator's and V8's high-water
    // mark over the first ~4,000 connections (node:tls and plain net do the
    // same; measured flat after that), then stays.
    await run(2 * CONNECTIONS);
    await settle();
    const before = usage();
    const liveBefore = live();
    const started = Date.now();
    await run(CONNECTIONS);
    const seconds = (Date.now() - started) / 1000;
    await settle();
    const after = usage();
    console.log(`sockets: ${CONNECTIONS} connections in ${seconds.toFixed(1)} s`);
    checkGrowth('socket connections', before, after);
    assert.is(engines.size, 0);
    assert.is(live().Session, liveBefore.Session ?? 0, 'every Session of every connection released');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    context.free();
  }
  await settle();
  assert.is(live().Session, 0, 'no native Session left');
});

Leaks(`${FD_OBJECTS} fd-based SSL and BIO chains made and freed leak nothing, descriptors included`, async () => {
  // One real connected socket whose descriptor every SSL duplicates (set_fd).
  const peers: NetSocket[] = [];
  const listener = createServer((s) => peers.push(s));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const sock = new Socket();
  await sock.connect('127.0.0.1', (listener.address() as AddressInfo).port);
  const context = new TLSClientContext();
  const round = (n: number) => {
    for (let i = 0; i < n; i++) {
      const ssl = new SSL(context);
      ssl.set_fd(sock.id); // a dup of the descriptor, closed by free()
      ssl.free();
      const chained = new SSL(context);
      const sslBio = new SSLBIO();
      sslBio.set_ssl(chained, BIO_NOCLOSE);
      sslBio.push(new ConnectBIO());
      sslBio.free_all();
      chained.free();
    }
  };
  try {
    // Warm up twice as many: V8's and the allocator's high-water mark for
    // these short-lived wrappers settles after some tens of thousands of
    // objects (measured: flat from then on), a leak grows on regardless.
    round(2 * FD_OBJECTS);
    await settle();
    const before = usage();
    const fdsBefore = openDescriptors();
    round(FD_OBJECTS);
    await settle();
    const after = usage();
    const fdsAfter = openDescriptors();
    console.log(`fd objects: ${FD_OBJECTS} × (SSL with set_fd, SSLBIO→ConnectBIO chain); descriptors ${fdsBefore} -> ${fdsAfter}`);
    checkGrowth('fd objects', before, after);
    assert.is(fdsAfter, fdsBefore, 'every duplicated descriptor closed');
    const counters = live();
    assert.is(counters.FdSsl ?? 0, 0, 'every native FdSsl released');
    assert.is(counters.Bio ?? 0, 0, 'every native Bio released');
    assert.is(counters.PollHandle ?? 0, 0, 'no readiness watcher left');
  } finally {
    sock.close();
    for (const p of peers) p.destroy();
    await new Promise<void>((r) => listener.close(() => r()));
    context.free();
  }
});

Leaks.run();
