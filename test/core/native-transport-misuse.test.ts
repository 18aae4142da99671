// Misuse of the native transport: every entry point validates its arguments
// and the object's state with a typed error; option getters that free the
// context run before the context is used; wrappers that outlive their
// connection answer ERR_TLS_CLOSED; servers and connections dropped by JS
// while open keep working (held natively) and are collected after close.
import { closeSync, openSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { TLSClientContext, TLSServerContext, type NativeTlsConnection, type TlsError } from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connectNativeTls, outcome, secure, startNative } from '../helpers/native-transport.js';
import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const p = pki();
const kNative = Object.getOwnPropertySymbols(Object.getPrototypeOf(Object.getPrototypeOf(new TLSClientContext()))).find(
  (s) => s.description === 'rxtls.native',
)!;
const nativeOf = (ctx: object) => (ctx as Record<symbol, import('@rxtls/core').SSLContext>)[kNative] as unknown as object;

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as TlsError).code ?? String(e);
  }
  return 'no error';
};

const misuse = suite('native transport misuse');

misuse('tcpConnect / tcpListen validate every argument', () => {
  const b = nativeBinding as unknown as Record<string, (...a: unknown[]) => unknown>;
  const client = nativeOf(new TLSClientContext());
  const server = new TLSServerContext();
  server.load_certs(p.server.cert, p.server.key);
  const owner = {};
  assert.is(code(() => b.tcpConnect!({}, '127.0.0.1', 1, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(client, 'localhost', 1, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(client, '127.0.0.1', 0, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(client, '127.0.0.1', 70000, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(client, '127.0.0.1', 1, null, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(client, '127.0.0.1', 1, { handshakeTimeout: -1 }, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(client, '127.0.0.1', 1, { alpnProtocols: Buffer.from([9, 1]) }, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(client, '127.0.0.1', 1, {}, 'not an object')), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpConnect!(nativeOf(server), '127.0.0.1', 1, {}, owner)), 'ERR_TLS_STATE');
  assert.is(code(() => b.tcpListen!(nativeOf(server), 'localhost', 0, 16, false, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpListen!(nativeOf(server), '127.0.0.1', 0, 0, false, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpListen!(client, '127.0.0.1', 0, 16, false, {}, owner)), 'ERR_TLS_STATE');
  assert.is(code(() => b.setTransportCallbacks!({ secure: () => {} })), 'ERR_TLS_INVALID_ARGUMENT');
});

misuse('an option getter that frees the context runs before the context is used: ERR_TLS_CLOSED, no crash', () => {
  const ctx = new TLSClientContext();
  const opts = {
    get servername() {
      ctx.free();
      return 'localhost';
    },
  };
  const b = nativeBinding as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.is(code(() => b.tcpConnect!(nativeOf(ctx), '127.0.0.1', 1, opts, {})), 'ERR_TLS_CLOSED');
});

misuse('tcpAdopt validates every argument, and a descriptor that is no TCP socket', async () => {
  const b = nativeBinding as unknown as Record<string, (...a: unknown[]) => unknown>;
  const client = nativeOf(new TLSClientContext());
  const server = new TLSServerContext();
  server.load_certs(p.server.cert, p.server.key);
  const owner = {};
  const fdsBefore = readdirSync('/proc/self/fd').length;
  assert.is(code(() => b.tcpAdopt!({}, 0, false, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpAdopt!(client, -1, false, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpAdopt!(client, 1.5, false, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpAdopt!(client, 0, 'yes', {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpAdopt!(client, 0, false, null, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpAdopt!(client, 0, false, { initial: 'text' }, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpAdopt!(client, 0, false, {}, 'not an object')), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(code(() => b.tcpAdopt!(nativeOf(server), 0, false, {}, owner)), 'ERR_TLS_STATE');
  assert.is(code(() => b.tcpAdopt!(client, 0, true, {}, owner)), 'ERR_TLS_STATE');
  // A descriptor that is a file, a pipe or no descriptor at all: refused before anything is made.
  const file = openSync(process.execPath, 'r');
  try {
    assert.is(code(() => b.tcpAdopt!(client, file, false, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  } finally {
    closeSync(file);
  }
  assert.is(code(() => b.tcpAdopt!(client, 1_000_000, false, {}, owner)), 'ERR_TLS_INVALID_ARGUMENT');
  // A listening socket is a TCP descriptor but no connection: the connection fails, and its close carries the error.
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  try {
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    // The owner gets the close (as a NativeTlsConnection would, through its _close).
    const closed = new Promise<unknown>((resolve) => {
      const c = b.tcpAdopt!(client, fd, false, {}, { _close: resolve }) as { destroy(): void };
      setTimeout(() => c.destroy(), 2_000).unref();
    });
    const err = await withTimeout(closed, 5_000, 'adopted listener');
    assert.ok(err instanceof Error, String(err));
    assert.type((err as TlsError).code, 'string');
  } finally {
    await new Promise<void>((r) => listener.close(() => r()));
  }
  await sleep(50);
  assert.is(readdirSync('/proc/self/fd').length, fdsBefore, 'no descriptor left behind');
});

misuse('a tcpAdopt option getter that frees the context: ERR_TLS_CLOSED, no descriptor duplicated', () => {
  const ctx = new TLSClientContext();
  const fdsBefore = readdirSync('/proc/self/fd').length;
  const opts = {
    get initial() {
      ctx.free();
      return undefined;
    },
  };
  const b = nativeBinding as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.is(code(() => b.tcpAdopt!(nativeOf(ctx), 0, false, opts, {})), 'ERR_TLS_CLOSED');
  assert.is(readdirSync('/proc/self/fd').length, fdsBefore);
});

misuse('the wrapper classes cannot be made from JS', async () => {
  const srv = await startNative({ ...p.server });
  try {
    const c = await secure(connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert }));
    const inner = (c as unknown as { native_: object }).native_;
    const Ctor = inner.constructor as new (...a: unknown[]) => unknown;
    assert.is(code(() => new Ctor()), 'ERR_TLS_STATE');
    assert.is(code(() => new Ctor({})), 'ERR_TLS_STATE');
    c.destroy();
  } finally {
    await srv.close();
  }
});

misuse('after close: writes throw, queries answer ERR_TLS_CLOSED, end/destroy/pause/resume are no-ops', async () => {
  const srv = await startNative({ ...p.server });
  try {
    const c = await secure(connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert }));
    assert.is(c.remotePort, srv.port);
    assert.is(code(() => c.write(42 as unknown as string)), 'ERR_TLS_INVALID_ARGUMENT');
    assert.is(code(() => c.writev([Buffer.from('a'), {} as Buffer])), 'ERR_TLS_INVALID_ARGUMENT');
    const done = outcome(c);
    c.end();
    assert.is(code(() => c.write('late')), 'ERR_TLS_STATE');
    await done;
    await sleep(5);
    assert.is(code(() => c.write('x')), 'ERR_TLS_STATE');
    assert.is(code(() => c.info()), 'ERR_TLS_CLOSED');
    assert.is(code(() => c.getSession()), 'ERR_TLS_CLOSED');
    assert.is(code(() => c.end()), 'no error');
    assert.is(code(() => c.destroy()), 'no error');
    assert.is(code(() => c.pause()), 'no error');
    assert.is(code(() => c.resume()), 'no error');
    assert.is(c.bufferedAmount, 0);
    assert.is(c.remoteAddress, '127.0.0.1', 'addresses read while open stay known');
  } finally {
    await srv.close();
  }
});

misuse('listen on a port in use: the server emits a SocketError with EADDRINUSE', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  try {
    const { createTlsServer } = await import('@rxtls/core');
    const s = createTlsServer({ ...p.server, transport: 'native' }, () => {});
    const err = await withTimeout(
      new Promise<TlsError & { syscallCode?: string }>((r) => s.once('error', r).listen((blocker.address() as net.AddressInfo).port, '127.0.0.1')),
      5_000,
      'error',
    );
    assert.is(err.code, 'ERR_TLS_SOCKET');
    assert.is(err.syscallCode, 'EADDRINUSE');
    assert.is(s.address(), null);
  } finally {
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});

misuse('a server and a connection JS dropped while open keep working; after close they are collected', async () => {
  await sleep(20); // close callbacks of the previous tests
  const before = nativeBinding.debugCounters();
  let port = 0;
  let serverConns = 0;
  let weak: WeakRef<import('@rxtls/core').NativeTlsServer> | undefined;
  await (async () => {
    const srv = await startNative({ ...p.server }, (c) => {
      serverConns++;
      c.ondata = (d) => c.write(d);
    });
    port = srv.port;
    weak = new WeakRef(srv.server);
  })(); // every JS reference to the server is gone here
  const echo = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = connectNativeTls({ host: 'localhost', port, ca: p.ca.cert });
      c.onsecure = () => c.write('still here');
      c.ondata = (d) => {
        resolve(d.toString());
        c.destroy();
      };
      c.onclose = (e) => e && reject(e);
    });
  for (let i = 0; i < 3; i++) gc();
  assert.is(await withTimeout(echo(), 10_000, 'echo after gc'), 'still here');
  // A connection nobody references, mid-transfer, survives a collection too.
  let dropped: NativeTlsConnection | undefined = connectNativeTls({ host: 'localhost', port, ca: p.ca.cert });
  let got = '';
  const closed = new Promise<void>((r) => {
    dropped!.ondata = (d) => (got += d);
    dropped!.onsecure = function (this: void) {};
    dropped!.onclose = () => r();
  });
  const sent = dropped;
  sent.onsecure = () => {
    sent.write('ping');
    setTimeout(() => sent.end(), 50);
  };
  dropped = undefined;
  for (let i = 0; i < 3; i++) gc();
  await withTimeout(closed, 10_000, 'dropped connection closes');
  assert.is(got, 'ping');
  assert.ok(serverConns >= 2);
  await sleep(20);
  for (let i = 0; i < 3; i++) gc();
  await sleep(20);
  const after = nativeBinding.debugCounters();
  // The server is still listening (held natively): only its connections are gone.
  assert.is(after.TcpConnection, before.TcpConnection, 'every connection freed');
  assert.is(after.TcpServer, before.TcpServer! + 1, 'the dropped server still listens');
  assert.ok(after.TcpConnectionWrap! <= before.TcpConnectionWrap! + 1, `wrappers collected (${before.TcpConnectionWrap} -> ${after.TcpConnectionWrap})`);
  // The native side holds the listening server's JS object: it is still there to close.
  const server = weak!.deref();
  assert.ok(server, 'a listening server is kept alive natively');
  await new Promise<void>((r) => server!.close(() => r()));
});

misuse.run();
