// Misuse and re-entrancy of the native transport's fleet entry points
// (session store answers, post-handshake authentication, PROXY settings):
// each validates its arguments and the connection's state with a typed
// error, a wrapper that outlives its connection answers ERR_TLS_CLOSED, and a
// store answer given inside the lookup callback itself is deferred to the loop.
import { TLSServerContext, type NativeTlsConnection, type TlsError } from '@rxtls/core';
import { binding, type NativeTcpConnection, type NativeTcpServer } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connectNativeTls, outcome, secure, startNative } from '../helpers/native-transport.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { mapStore, recorded, tls12Client } from '../helpers/session-store.js';

const p = pki();
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as TlsError).code ?? String(e);
  }
  return 'no error';
};
const rawOf = (c: NativeTlsConnection) => (c as unknown as { native_: NativeTcpConnection }).native_;

const fleet = suite('native transport: fleet entry points');

fleet('sessionStoreAnswer, takeStoreSessions and verifyClientPostHandshake check their arguments and state', async () => {
  let server: NativeTlsConnection | undefined;
  const srv = await startNative({ ...p.server }, (c) => {
    server = c;
    c.ondata = (d) => c.write(d);
  });
  try {
    const client = await secure(connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert }));
    client.write('x');
    await withTimeout(new Promise<void>((resolve) => (client.ondata = () => resolve())), 10_000, 'echo');
    const raw = rawOf(server!);
    assert.is(code(() => raw.sessionStoreAnswer(null)), 'ERR_TLS_STATE', 'no lookup pending');
    assert.is(code(() => raw.sessionStoreAnswer('session' as never)), 'ERR_TLS_INVALID_ARGUMENT');
    assert.is(code(() => raw.sessionStoreAnswer({} as never)), 'ERR_TLS_INVALID_ARGUMENT');
    assert.equal(raw.takeStoreSessions(), []);
    assert.is(code(() => rawOf(client).verifyClientPostHandshake()), 'ERR_TLS_STATE', 'a client does not ask');
    // The client offered no post-handshake auth (it has no certificate).
    assert.is(code(() => server!.verifyClientPostHandshake()), 'ERR_TLS_STATE');
    assert.ok(server!.secure, 'a refused request leaves the connection open');
    const closed = outcome(client);
    server!.destroy();
    await closed;
    assert.is(code(() => raw.sessionStoreAnswer(null)), 'ERR_TLS_CLOSED');
    assert.is(code(() => raw.verifyClientPostHandshake()), 'ERR_TLS_CLOSED');
    assert.is(code(() => raw.takeStoreSessions()), 'ERR_TLS_CLOSED');
  } finally {
    await srv.close();
  }
});

fleet('during a post-handshake authentication the native connection refuses write and end; the TS connection queues them', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(p.server.cert, p.server.key);
  ctx.set_verify_locations(p.ca.cert);
  let codes: string[] = [];
  const srv = await startNative({ context: ctx }, (c) => {
    c.ondata = () => {
      c.verifyClientPostHandshake();
      codes = [code(() => rawOf(c).write('x')), code(() => rawOf(c).end()), code(() => c.verifyClientPostHandshake())];
      c.write('queued ');
      c.end();
    };
    c.onpeercertificate = () => {}; // the end() above runs once the answer is in
  });
  try {
    const client = connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert, cert: p.client.cert, key: p.client.key });
    client.onsecure = () => client.write('go');
    const got = await outcome(client);
    assert.equal(codes, ['ERR_TLS_STATE', 'ERR_TLS_STATE', 'ERR_TLS_STATE']);
    assert.is(got.data.toString(), 'queued ');
    assert.ok(got.clean, 'the end() queued during the request was sent after it');
  } finally {
    await srv.close();
  }
});

fleet('tcpListen validates proxyProtocol settings; parseProxyHeader its buffer', () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(p.server.cert, p.server.key);
  const native = (ctx as unknown as Record<symbol, unknown>)[
    Object.getOwnPropertySymbols(Object.getPrototypeOf(Object.getPrototypeOf(ctx))).find((s) => s.description === 'rxtls.native')!
  ];
  const listen = (proxyProtocol: unknown) => () =>
    (binding.tcpListen as (...a: unknown[]) => unknown)(native, '127.0.0.1', 0, 16, false, { proxyProtocol }, {});
  const ok = { trusted: [{ address: '127.0.0.1', bits: 32 }], timeout: 100, maxHeaderLength: 4096 };
  for (const bad of [
    5,
    { ...ok, trusted: [] },
    { ...ok, trusted: 'x' },
    { ...ok, trusted: [{ address: 'localhost', bits: 32 }] },
    { ...ok, trusted: [{ address: '10.0.0.0', bits: 33 }] },
    { ...ok, trusted: [{ address: '::1', bits: 1.5 }] },
    { ...ok, timeout: 0 },
    { ...ok, maxHeaderLength: 100 },
    { ...ok, maxHeaderLength: 70000 },
  ])
    assert.is(code(listen(bad)), 'ERR_TLS_INVALID_ARGUMENT', JSON.stringify(bad));
  assert.is(code(() => binding.parseProxyHeader(5 as never)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(binding.parseProxyHeader(Buffer.alloc(0)), null);
});

fleet('a context with the store on, on a server without a store: answered inside the lookup callback, a full handshake', async () => {
  const store = recorded(mapStore());
  const ctx = new TLSServerContext();
  ctx.load_certs(p.server.cert, p.server.key);
  const answer = (c: NativeTlsConnection) => {
    c.onsecure = () => (c.write(c.info().resumed ? 'resumed' : 'full'), c.end());
  };
  // The first server turns the store on for the context; the second shares the context without one.
  const withStore = await startNative({ context: ctx, sessionStore: store }, answer);
  const without = await startNative({ context: ctx }, answer);
  try {
    const visit = async (port: number, session?: Buffer) => {
      const c = connectNativeTls({ host: 'localhost', port, context: tls12Client(p), ...(session ? { session } : {}) });
      let s: Buffer | null = null;
      c.onsecure = () => (s = c.getSession());
      const got = await outcome(c);
      assert.is(got.error, undefined);
      return { answer: got.data.toString(), session: s as Buffer | null };
    };
    const first = await visit(withStore.port);
    await store.settled();
    assert.is(store.sets.length, 1);
    assert.is((await visit(without.port, first.session!)).answer, 'full');
    assert.is((await visit(withStore.port, first.session!)).answer, 'resumed');
    assert.equal(without.clientErrors, []);
  } finally {
    await Promise.all([withStore.close(), without.close()]);
  }
});

fleet('re-entrancy: every connection call from inside onpeercertificate, and the request itself from inside onsecure', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(p.server.cert, p.server.key);
  ctx.set_verify_locations(p.ca.cert);
  const calls: Record<string, (c: NativeTlsConnection) => unknown> = {
    write: (c) => c.write('x'),
    writev: (c) => c.writev(['x', 'y']),
    end: (c) => c.end(),
    destroy: (c) => c.destroy(),
    pause: (c) => (c.pause(), setImmediate(() => c.resume())),
    info: (c) => c.info(),
    peerCertificate: (c) => c.peerCertificate(),
    peerCertificateChain: (c) => c.peerCertificateChain(true),
    authorized: (c) => c.authorized,
    getSession: (c) => c.getSession(),
    exportKeyingMaterial: (c) => c.exportKeyingMaterial(16, 'EXPORTER-test'),
    verifyClientPostHandshake: (c) => c.verifyClientPostHandshake(),
  };
  for (const [name, call] of Object.entries(calls)) {
    let answer: string | undefined;
    const srv = await startNative({ context: ctx }, (c) => {
      // Asked for inside the handler (the on_secure callback), before any data.
      c.onsecure = () => c.verifyClientPostHandshake();
      c.onpeercertificate = () => (answer = code(() => call(c)));
    });
    try {
      const client = connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert, cert: p.client.cert, key: p.client.key });
      client.onsecure = () => client.write('hi');
      const closing = outcome(client, 10_000).catch(() => undefined);
      await withTimeout(
        (async () => {
          while (answer === undefined) await new Promise((r) => setTimeout(r, 5));
        })(),
        10_000,
        `onpeercertificate → ${name}`,
      );
      assert.ok(answer === 'no error' || /^ERR_TLS_/.test(answer!), `${name}: ${answer}`);
      client.destroy();
      await closing;
    } finally {
      await srv.close();
    }
  }
});

fleet('a store whose get() shuts the server down, from inside the lookup callback: no crash, nothing left', async () => {
  const map = mapStore();
  let shut: (() => void) | undefined;
  const store = { ...map, get: (id: Buffer) => (shut?.(), map.get(id)) };
  const srv = await startNative({ ...p.server, sessionStore: store, sessionTickets: false }, (c) => {
    c.onsecure = () => (c.write(c.info().resumed ? 'resumed' : 'full'), c.end());
  });
  const first = connectNativeTls({ host: 'localhost', port: srv.port, context: tls12Client(p) });
  let session: Buffer | null = null;
  first.onsecure = () => (session = first.getSession());
  await outcome(first);
  assert.ok(session);
  // What shutdown()'s deadline does, here synchronously inside the native lookup callback.
  shut = () => {
    srv.server.close();
    (srv.server as unknown as { native_: NativeTcpServer }).native_.destroyConnections();
  };
  // 'close': the listener and its last connection are gone.
  const serverClosed = new Promise<void>((resolve) => srv.server.once('close', () => resolve()));
  const second = connectNativeTls({ host: 'localhost', port: srv.port, context: tls12Client(p), session: session! });
  const got = await outcome(second);
  assert.ok(got.error, 'the handshake was dropped with the server');
  await withTimeout(serverClosed, 10_000, 'server closed');
  // Every native connection of this file is freed once libuv ran its close callbacks.
  await withTimeout(
    (async () => {
      while ((binding.debugCounters().TcpConnection ?? 0) > 0) await new Promise((r) => setTimeout(r, 10));
    })(),
    5_000,
    'native connections freed',
  );
});

fleet.run();
