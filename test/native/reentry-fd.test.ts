// The native fd objects under re-entry: each readiness wait is settled
// exactly once (a wait for both events, several waits at once, free() and
// deadlines racing events), and JS run while reading an argument (a Proxy's
// traps) cannot free or drive the object the call is about to use; the
// context's callbacks (SNI, keylog, tickets) reach the descriptor SSL.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

// Importing core also installs the error factory: native errors become TlsError classes.
import {
  BIO_NOCLOSE,
  ConnectBIO,
  generateTicketKeys,
  HandshakeError,
  SSL,
  SSLBIO,
  StateError,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLSClientContext,
  TLSServerContext,
  type TlsError,
} from '@rxtls/core';
import { binding, WaitFor, type NativeBio, type NativeContext, type NativeFdSsl } from '@rxtls/native';

import { sleep, withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

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

// ---------------------------------------------------------------------------
// The context's callbacks on a descriptor SSL reach it (it is their SSL's
// owner): a callback that throws is the failure of the call that ran it,
// and tickets are sealed with the keys of the context the SSL was made from.
const owner = suite('native: context callbacks on a descriptor SSL');

const P = pki();

interface FdServer {
  port: number;
  /** What each connection's `serve` ended with: undefined, or what it threw. */
  outcomes: Promise<unknown>[];
  close(): Promise<void>;
}

/** Accepting SSLs on the descriptors of a net server's connections; each is freed and its socket closed after `serve`. */
async function fdServer(ctx: TLSServerContext, serve: (ssl: SSL) => Promise<void>): Promise<FdServer> {
  const outcomes: Promise<unknown>[] = [];
  const sockets = new Set<net.Socket>();
  const ssls = new Set<SSL>();
  // pauseOnConnect: Node must not read what OpenSSL is to read.
  const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    const ssl = new SSL(ctx);
    ssl.set_fd(fdOf(sock));
    ssl.set_accept_state();
    ssls.add(ssl);
    outcomes.push(
      serve(ssl)
        .then(() => undefined, (e: unknown) => e)
        .finally(() => {
          ssls.delete(ssl);
          ssl.free();
          sock.destroy();
          sockets.delete(sock);
        }),
    );
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    outcomes,
    async close() {
      // An SSL still serving (a test that failed) holds a dup of its descriptor: free it too.
      for (const ssl of ssls) if (!ssl.is_freed) ssl.free();
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

function serverContext(maxVersion = TLS1_3_VERSION): TLSServerContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.server.cert, P.server.key);
  ctx.set_protocol_versions(0, maxVersion);
  return ctx;
}

/** The only connection's outcome, once it is there. */
async function onlyOutcome(s: FdServer): Promise<unknown> {
  for (let i = 0; i < 500 && s.outcomes.length === 0; i++) await sleep(10);
  assert.is(s.outcomes.length, 1, 'one connection served');
  return withTimeout(s.outcomes[0]!, 10_000, 'server outcome');
}

/** A node:tls client to `port`: what it read, and the error it saw, once its socket closed. */
async function nodeClient(port: number, options: tls.ConnectionOptions = {}): Promise<{ data: string; error?: Error; secure: boolean }> {
  const c = tls.connect({ host: '127.0.0.1', port, ca: P.ca.cert, servername: 'localhost', ...options });
  let data = '';
  let error: Error | undefined;
  let secure = false;
  c.on('secureConnect', () => (secure = true));
  c.on('data', (d: Buffer) => (data += d.toString()));
  c.on('error', (e) => (error = e));
  try {
    await withTimeout(new Promise((r) => c.once('close', r)), 10_000, 'client close');
  } finally {
    c.destroy();
  }
  return { data, error, secure };
}

const isBoom = (boom: Error) => (e: unknown) => e instanceof HandshakeError && (e as Error & { cause?: unknown }).cause === boom;

owner('an SNI callback that throws: accept() rejects with HandshakeError, cause the thrown error; s_client gets an internal_error alert', async () => {
  const boom = new Error('no such tenant');
  const ctx = serverContext();
  ctx.set_servername_callback(() => {
    throw boom;
  });
  const s = await fdServer(ctx, async (ssl) => {
    await ssl.accept();
    await ssl.write('should not be sent\n');
  });
  try {
    const peer = await runSClient(s.port, ['-servername', 'tenant.example', '-CAfile', P.file('ca', 'crt')]);
    const err = await onlyOutcome(s);
    assert.ok(isBoom(boom)(err), `got ${String(err)} (cause ${String((err as { cause?: unknown }).cause)})`);
    assert.is((err as TlsError).code, 'ERR_TLS_HANDSHAKE');
    assert.match((err as Error).message, /servername callback threw/);
    assert.match(peer.stdout + peer.stderr, /alert internal error/);
    assert.not.match(peer.stdout, /should not be sent/);
  } finally {
    await s.close();
  }
});

owner('an SNI callback that throws (TLS 1.2): node:tls gets the alert as ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR', async () => {
  const boom = new TypeError('sni table broken');
  const ctx = serverContext(TLS1_2_VERSION);
  ctx.set_servername_callback(() => {
    throw boom;
  });
  const s = await fdServer(ctx, async (ssl) => {
    await ssl.accept();
  });
  try {
    const peer = await nodeClient(s.port, { servername: 'tenant.example' });
    assert.ok(isBoom(boom)(await onlyOutcome(s)));
    assert.is(peer.secure, false);
    assert.is((peer.error as { code?: string } | undefined)?.code, 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR');
  } finally {
    await s.close();
  }
});

owner('an SNI callback returning neither a server context nor undefined: HandshakeError saying so, the peer alerted', async () => {
  const ctx = serverContext();
  ctx.set_servername_callback(() => 42 as unknown as undefined);
  const s = await fdServer(ctx, async (ssl) => {
    await ssl.accept();
  });
  try {
    const peer = await nodeClient(s.port, { servername: 'tenant.example' });
    const err = (await onlyOutcome(s)) as TlsError & { cause?: { code?: string } };
    assert.ok(err instanceof HandshakeError, String(err));
    assert.is(err.cause?.code, 'ERR_TLS_INVALID_ARGUMENT');
    assert.is((peer.error as { code?: string } | undefined)?.code, 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR');
  } finally {
    await s.close();
  }
});

for (const version of [TLS1_3_VERSION, TLS1_2_VERSION]) {
  const v = version === TLS1_3_VERSION ? '1.3' : '1.2';
  owner(`a keylog callback that throws (TLS ${v}): accept() rejects with its error as cause; the SSL refuses to go on; the peer gets no data`, async () => {
    const boom = new Error('keylog sink broken');
    const ctx = serverContext(version);
    let calls = 0;
    ctx.set_keylog_callback(() => {
      calls++;
      throw boom;
    });
    let after: unknown;
    let shutdown: unknown;
    const s = await fdServer(ctx, async (ssl) => {
      try {
        await ssl.accept();
      } finally {
        // The failure ends the SSL: driving it again is refused; shutdown sends nothing.
        after = await ssl.write('after the failure\n').then(() => 'written', (e: unknown) => e);
        shutdown = await ssl.shutdown().then(() => 'done', (e: unknown) => e);
      }
    });
    try {
      const peer = await nodeClient(s.port);
      const err = await onlyOutcome(s);
      assert.ok(isBoom(boom)(err), String(err));
      assert.match((err as Error).message, /keylog callback threw/);
      assert.ok(calls >= 1);
      assert.ok(after instanceof StateError, String(after));
      assert.is(shutdown, 'done');
      assert.is(peer.data, '');
    } finally {
      await s.close();
    }
  });
}

owner('a descriptor client whose keylog callback throws: connect() rejects with HandshakeError, cause the thrown error', async () => {
  const boom = new Error('client keylog broken');
  const server = tls.createServer({ key: P.server.key, cert: P.server.cert }, (s) => s.end('hello\n'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = await connected((server.address() as net.AddressInfo).port);
  try {
    const ctx = new TLSClientContext();
    ctx.set_verify_locations(P.file('ca', 'crt'));
    ctx.set_keylog_callback(() => {
      throw boom;
    });
    const ssl = new SSL(ctx);
    try {
      ssl.set_fd(fdOf(sock));
      ssl.set_host('localhost');
      const err = await withTimeout(ssl.connect().then(() => undefined, (e: unknown) => e), 10_000, 'connect');
      assert.ok(isBoom(boom)(err), String(err));
    } finally {
      ssl.free();
    }
  } finally {
    sock.destroy();
    await new Promise((r) => server.close(r));
  }
});

owner('an SSLBIO over a ConnectBIO whose SSL\'s keylog callback throws: do_connect() rejects with its error as cause; the SSL refuses to go on', async () => {
  const boom = new Error('bio keylog broken');
  const server = tls.createServer({ key: P.server.key, cert: P.server.cert }, (s) => s.end('hello\n'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(P.file('ca', 'crt'));
  ctx.set_keylog_callback(() => {
    throw boom;
  });
  const ssl = new SSL(ctx);
  ssl.set_connect_state();
  const bio = new SSLBIO();
  const conn = new ConnectBIO();
  try {
    bio.set_ssl(ssl, BIO_NOCLOSE);
    conn.set_conn_hostname('localhost');
    conn.set_conn_port((server.address() as net.AddressInfo).port);
    bio.push(conn);
    const err = await withTimeout(bio.do_connect().then(() => undefined, (e: unknown) => e), 10_000, 'do_connect');
    assert.ok(isBoom(boom)(err), String(err));
    const after = await ssl.read_bytes().then(() => 'read', (e: unknown) => e);
    assert.ok(after instanceof StateError, String(after));
  } finally {
    if (!bio.is_freed) bio.free_all();
    if (!conn.is_freed) conn.free();
    if (!ssl.is_freed) ssl.free();
    await new Promise((r) => server.close(r));
  }
});

owner('SNI switches context, then a ticket resumes: tickets use the keys of the context the SSL was made from', async () => {
  const ctx = serverContext();
  ctx.set_ticket_keys(generateTicketKeys());
  // The context SNI switches to has no ticket keys of its own: a ticket
  // sealed or opened with its (absent) keys would fail the handshake.
  const other = new TLSServerContext();
  other.load_certs(P.otherHost.cert, P.otherHost.key);
  let asked = 0;
  ctx.set_servername_callback((name) => {
    asked++;
    return name === 'other.example' ? other : undefined;
  });
  const reused: boolean[] = [];
  const s = await fdServer(ctx, async (ssl) => {
    await ssl.accept();
    reused.push(ssl.session_reused());
    assert.is(ssl.info().servername, 'other.example');
    await ssl.write('hi\n');
    await ssl.shutdown();
  });
  try {
    const connectOnce = async (session?: Buffer) => {
      const c = tls.connect({ host: '127.0.0.1', port: s.port, ca: P.ca.cert, servername: 'other.example', session });
      let got: Buffer | undefined;
      c.on('session', (sess: Buffer) => (got = sess));
      c.on('data', () => {});
      const closed = new Promise<void>((r, j) => {
        c.once('close', () => r());
        c.once('error', j);
      });
      closed.catch(() => {});
      try {
        await withTimeout(new Promise<void>((r, j) => {
          c.once('secureConnect', r);
          c.once('error', j);
        }), 10_000, 'secureConnect');
        const wasReused = c.isSessionReused();
        await withTimeout(closed, 10_000, 'close');
        return { session: got, reused: wasReused };
      } finally {
        c.destroy();
      }
    };
    const first = await connectOnce();
    assert.ok(first.session, 'the server sent a ticket');
    assert.is(first.reused, false);
    const second = await connectOnce(first.session);
    assert.is(second.reused, true, 'the ticket resumed');
    for (const o of s.outcomes) assert.is(await withTimeout(o, 10_000, 'server'), undefined);
    assert.equal(reused, [false, true]);
    assert.is(asked, 2);
  } finally {
    await s.close();
  }
});

owner.run();
