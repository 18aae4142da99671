// The native fd objects under re-entry: each readiness wait is settled
// exactly once (a wait for both events, several waits at once, free() and
// deadlines racing events), and JS run while reading an argument (a Proxy's
// traps) cannot free or drive the object the call is about to use.
import * as net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import '@rxtls/core'; // installs the error factory: native errors become TlsError classes
import { binding, WaitFor, type NativeBio, type NativeContext, type NativeFdSsl } from '@rxtls/native';

import { sleep, withTimeout } from '../helpers/net.js';

const nativeContext = (): NativeContext => new binding.Context(binding.methods.TLS_method);

interface Echo {
  port: number;
  close(): Promise<void>;
}

/** A TCP server that echoes what it gets, or (silent) never reads or writes. */
async function server(kind: 'echo' | 'silent'): Promise<Echo> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ pauseOnConnect: kind === 'silent' }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (kind === 'echo') s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

async function connected(port: number): Promise<net.Socket> {
  const s = new net.Socket();
  s.pause(); // before connect: Node never reads this descriptor
  s.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    s.once('connect', r);
    s.once('error', j);
  });
  return s;
}

const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;

/** Records how often a promise settled (a promise settles once; a double settle from C++ crashes before this runs). */
function track(p: Promise<number>): { result: Promise<{ ok: boolean; value: unknown }> } {
  return { result: p.then((value) => ({ ok: true, value }), (value: unknown) => ({ ok: false, value })) };
}

const codeOf = (v: unknown) => (v as { code?: string }).code;

/** A connect BIO connected to `port` (its socket is the BIO's own). */
async function connectBio(port: number): Promise<NativeBio> {
  const c = new binding.Bio(binding.bioMethods.BIO_s_connect);
  c.setConnHostname('127.0.0.1');
  c.setConnPort(String(port));
  while (c.doHandshake() < 0) await c.wait(WaitFor.Writable);
  return c;
}

// ---------------------------------------------------------------------------
const once = suite('native: each wait is settled once');

once('FdSsl.wait(3): resolved by the first event; a later readable event and free() find nothing left to settle', async () => {
  const echo = await server('echo');
  const sock = await connected(echo.port);
  try {
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    // A connected socket is writable at once: this resolves on writable.
    const both = await withTimeout(ssl.wait(WaitFor.Readable | WaitFor.Writable), 5000, 'wait(3)');
    assert.ok(both & WaitFor.Writable);
    // Before the fix the same deferred also sat in the readers' list: this
    // readable event (the echo) settled it a second time -> segfault.
    const readable = ssl.wait(WaitFor.Readable);
    sock.write('x');
    assert.ok((await withTimeout(readable, 5000, 'readable')) & WaitFor.Readable);
    ssl.free();
  } finally {
    sock.destroy();
    await echo.close();
  }
});

once('Bio.wait(3) on a connect BIO: resolved once, then free() with nothing pending', async () => {
  const echo = await server('echo');
  try {
    const c = await connectBio(echo.port);
    assert.ok((await withTimeout(c.wait(3), 5000, 'wait(3)')) & WaitFor.Writable);
    assert.is(c.write('ping'), 4);
    // The echo makes the socket readable: a second event for a wait(3) that is gone.
    assert.ok((await withTimeout(c.wait(WaitFor.Readable), 5000, 'readable')) & WaitFor.Readable);
    c.free();
  } finally {
    await echo.close();
  }
});

once('wait(3) pending on a silent socket: free() rejects it once with ERR_TLS_CLOSED', async () => {
  const silent = await server('silent');
  const sock = await connected(silent.port);
  try {
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    // Nothing ever arrives: both stay pending until free().
    const r = track(ssl.wait(WaitFor.Readable));
    const r2 = track(ssl.wait(WaitFor.Readable));
    ssl.free();
    for (const t of [r, r2]) {
      const got = await t.result;
      assert.is(got.ok, false);
      assert.is(codeOf(got.value), 'ERR_TLS_CLOSED');
    }
    await sleep(20); // a late poll event on the closed handle must find nothing
  } finally {
    sock.destroy();
    await silent.close();
  }
});

once('waits for 1, 2 and 3 together: writable settles 2 and 3, readable later settles 1, each once', async () => {
  const echo = await server('echo');
  const sock = await connected(echo.port);
  try {
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    let settledR = 0;
    const r = ssl.wait(WaitFor.Readable).then((v) => {
      settledR++;
      return v;
    });
    const w = ssl.wait(WaitFor.Writable);
    const b = ssl.wait(3);
    assert.ok((await withTimeout(w, 5000, 'w')) & WaitFor.Writable);
    assert.ok((await withTimeout(b, 5000, 'both')) & WaitFor.Writable);
    assert.is(settledR, 0, 'the readable wait is still pending');
    sock.write('y');
    assert.ok((await withTimeout(r, 5000, 'r')) & WaitFor.Readable);
    assert.is(settledR, 1);
    ssl.free();
  } finally {
    sock.destroy();
    await echo.close();
  }
});

once.run();

// ---------------------------------------------------------------------------
const deadline = suite('native: wait deadlines');

deadline('wait(readable, ms) on a silent peer rejects with ERR_TLS_TIMEOUT; the waiter stays usable', async () => {
  const silent = await server('silent');
  const sock = await connected(silent.port);
  try {
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    const t = await track(ssl.wait(WaitFor.Readable, 30)).result;
    assert.is(t.ok, false);
    assert.is(codeOf(t.value), 'ERR_TLS_TIMEOUT');
    assert.is((t.value as Error).name, 'TimeoutError');
    // The timed-out request is gone; the poll handle serves the next wait.
    assert.ok((await withTimeout(ssl.wait(WaitFor.Writable, 5000), 5000, 'writable')) & WaitFor.Writable);
    // A deadline that an event beats: resolved, and its timer never fires later.
    assert.ok((await ssl.wait(3, 40)) & WaitFor.Writable);
    await sleep(60);
    ssl.free();
  } finally {
    sock.destroy();
    await silent.close();
  }
});

deadline('free() before the deadline rejects once with ERR_TLS_CLOSED; the timer is gone with it', async () => {
  const silent = await server('silent');
  try {
    const c = await connectBio(silent.port);
    const t = track(c.wait(WaitFor.Readable, 30));
    c.free();
    const got = await t.result;
    assert.is(codeOf(got.value), 'ERR_TLS_CLOSED');
    await sleep(60); // past the deadline: nothing left to fire
  } finally {
    await silent.close();
  }
});

deadline('a bad timeout is refused with ERR_TLS_INVALID_ARGUMENT', async () => {
  const echo = await server('echo');
  const sock = await connected(echo.port);
  try {
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    for (const bad of [-1, 1.5, 2 ** 31, 'x'])
      assert.throws(() => ssl.wait(1, bad as number), (e: { code?: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
    ssl.free();
  } finally {
    sock.destroy();
    await echo.close();
  }
});

deadline.run();

// ---------------------------------------------------------------------------
const args = suite('native: JS run while an argument is read');

/** A Proxy that passes for `target` (same prototype) and runs `trap` when asked for its prototype. */
function sneaky<T extends object>(target: T, trap: () => void): T {
  return new Proxy(target, {
    getPrototypeOf(t) {
      trap();
      return Reflect.getPrototypeOf(t);
    },
  });
}

args('set_ssl(proxy) whose trap frees the BIO: ERR_TLS_CLOSED, nothing linked', () => {
  const bio = new binding.Bio(binding.bioMethods.BIO_f_ssl);
  const ssl = new binding.FdSsl(nativeContext());
  const proxy = sneaky(ssl, () => bio.free());
  assert.throws(() => bio.setSsl(proxy, true), (e: { code?: string }) => e.code === 'ERR_TLS_CLOSED' || e.code === 'ERR_TLS_INVALID_ARGUMENT');
  assert.ok(bio.isFreed());
  assert.not.ok(ssl.isFreed());
  ssl.free();
});

args('set_ssl(proxy) whose trap frees the SSL, or drives the BIO: typed errors', () => {
  const bio = new binding.Bio(binding.bioMethods.BIO_f_ssl);
  const ssl = new binding.FdSsl(nativeContext());
  let inner: unknown;
  const proxy = sneaky(ssl, () => {
    try {
      bio.read(10);
    } catch (e) {
      inner = e;
    }
    ssl.free();
  });
  assert.throws(() => bio.setSsl(proxy, false), (e: { code?: string }) => typeof e.code === 'string');
  assert.is(codeOf(inner), 'ERR_TLS_STATE', 'read() from inside the argument read is refused');
  assert.ok(ssl.isFreed());
  bio.free();
});

args('push(proxy) whose trap frees both BIOs: ERR_TLS_CLOSED', () => {
  const a = new binding.Bio(binding.bioMethods.BIO_f_ssl);
  const b = new binding.Bio(binding.bioMethods.BIO_s_connect);
  const proxy = sneaky(b, () => {
    a.free();
    b.free();
  });
  assert.throws(() => a.push(proxy), (e: { code?: string }) => e.code === 'ERR_TLS_CLOSED' || e.code === 'ERR_TLS_INVALID_ARGUMENT');
  assert.ok(a.isFreed() && b.isFreed());
});

args('new FdSsl(proxy) whose trap frees the context: a typed error', () => {
  const ctx = nativeContext();
  const proxy = sneaky(ctx, () => ctx.free());
  assert.throws(
    () => new binding.FdSsl(proxy),
    (e: { code?: string }) => e.code === 'ERR_TLS_CLOSED' || e.code === 'ERR_TLS_INVALID_ARGUMENT',
  );
});

args('a plain object pretending to be an SSL or a BIO is refused with ERR_TLS_INVALID_ARGUMENT', () => {
  const bio = new binding.Bio(binding.bioMethods.BIO_f_ssl);
  const fake = Object.create(Object.getPrototypeOf(new binding.FdSsl(nativeContext()))) as NativeFdSsl;
  assert.throws(() => bio.setSsl(fake, true), (e: { code?: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  const fakeBio = Object.create(Object.getPrototypeOf(bio)) as NativeBio;
  assert.throws(() => bio.push(fakeBio), (e: { code?: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  bio.free();
});

args.run();
