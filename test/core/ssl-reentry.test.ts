// Re-entrancy of the documented SSL and BIO classes: from inside every
// callback the addon makes on them (the context's keylog and SNI callbacks,
// which OpenSSL runs inside the handshake) every public method is called, on
// the SSL, on the BIOs of its chain and on its context. The process must
// survive each, and each outcome is a defined one: free() takes effect when
// the running call returns (which then rejects with ERR_TLS_CLOSED), calls
// that drive an SSL or BIO are refused with ERR_TLS_STATE, read-only calls
// answer. Also: getters and Proxy traps inside arguments.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import {
  BIO,
  BIO_NOCLOSE,
  ClosedError,
  ConnectBIO,
  SSL,
  SSLBIO,
  SSL_VERIFY_NONE,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLSClientContext,
  TLSServerContext,
  TlsError,
  type SSLContext,
} from '@rxtls/core';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const P = pki();
const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;

/** What an action, called from inside the callback, can reach. */
interface Target {
  ssl: SSL;
  ctx: SSLContext;
  /** The SSLBIO driving the handshake, in the BIO scenarios. */
  bio?: SSLBIO;
  /** The ConnectBIO under it, in the client BIO scenario. */
  conn?: BIO;
  fd: number;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs `fn` now (inside the callback) and records how it ended, also for a returned Promise. */
function capture(fn: () => unknown): Promise<Settled> {
  try {
    const v = fn();
    if (v instanceof Promise) return v.then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, error }));
    return Promise.resolve({ ok: true, value: v });
  } catch (error) {
    return Promise.resolve({ ok: false, error });
  }
}

type Callback = 'keylog' | 'sni';

interface Scenario {
  name: string;
  callback: Callback;
  /** 'ssl': the SSL itself drives the handshake; 'bio': an SSLBIO does. */
  driver: 'ssl' | 'bio';
  /** Runs one handshake with `onCallback` called from the first callback; resolves with how the handshake call ended. */
  run(onCallback: (t: Target) => void): Promise<Settled>;
}

function serverContext(): TLSServerContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.server.cert, P.server.key);
  return ctx;
}

function clientContext(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(P.file('ca', 'crt'));
  return ctx;
}

/** Installs `callback` on `ctx` so that its first call runs `hook` (later calls do nothing). */
function hookOnce(ctx: SSLContext, callback: Callback, hook: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    hook();
  };
  if (callback === 'keylog') ctx.set_keylog_callback(once);
  else
    ctx.set_servername_callback(() => {
      once();
      return undefined;
    });
}

/** A server SSL (or SSLBIO over it) on the first connection of a pauseOnConnect net server; node:tls connects. */
function serverScenario(callback: Callback, driver: 'ssl' | 'bio', version: number): Scenario {
  return {
    name: `server ${driver === 'ssl' ? 'SSL' : 'SSLBIO'} (${version === TLS1_3_VERSION ? 'TLS 1.3' : 'TLS 1.2'}), ${callback} callback`,
    callback,
    driver,
    async run(onCallback) {
      const ctx = serverContext();
      ctx.set_protocol_versions(version, version);
      const conns: net.Socket[] = [];
      let result: Promise<Settled> | undefined;
      const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
        conns.push(sock);
        const ssl = new SSL(ctx);
        const fd = fdOf(sock);
        ssl.set_fd(fd);
        ssl.set_accept_state();
        const t: Target = { ssl, ctx, fd };
        if (driver === 'bio') {
          t.bio = new SSLBIO();
          t.bio.set_ssl(ssl, BIO_NOCLOSE);
        }
        hookOnce(ctx, callback, () => onCallback(t));
        result = capture(() => (t.bio ? t.bio.do_accept() : ssl.accept())).finally(() => {
          if (t.bio && !t.bio.is_freed) t.bio.free();
          if (!ssl.is_freed) ssl.free();
        });
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const client = tls.connect({
        port: (srv.address() as net.AddressInfo).port,
        host: '127.0.0.1',
        servername: 'localhost',
        ca: P.ca.cert,
      });
      client.on('error', () => {});
      try {
        await withTimeout(
          (async () => {
            while (result === undefined) await new Promise((r) => setTimeout(r, 1));
          })(),
          10_000,
          'connection',
        );
        return await withTimeout(result!, 10_000, 'server handshake');
      } finally {
        client.destroy();
        for (const c of conns) c.destroy();
        await new Promise((r) => srv.close(r));
      }
    },
  };
}

/** A client SSL over a paused net.Socket (or SSLBIO over a ConnectBIO) against a node:tls server. */
function clientScenario(driver: 'ssl' | 'bio'): Scenario {
  return {
    name: `client ${driver === 'ssl' ? 'SSL' : 'SSLBIO over ConnectBIO'}, keylog callback`,
    callback: 'keylog',
    driver,
    async run(onCallback) {
      const server = tls.createServer({ cert: P.server.cert, key: P.server.key }, (s) => s.on('error', () => {}));
      server.on('tlsClientError', () => {});
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      const ctx = clientContext();
      const ssl = new SSL(ctx);
      ssl.set_connect_state();
      let sock: net.Socket | undefined;
      const t: Target = { ssl, ctx, fd: -1 };
      try {
        if (driver === 'ssl') {
          sock = new net.Socket();
          sock.pause();
          sock.connect(port, '127.0.0.1');
          await new Promise<void>((r, j) => {
            sock!.once('connect', r);
            sock!.once('error', j);
          });
          t.fd = fdOf(sock);
          ssl.set_fd(t.fd);
          ssl.set_host('localhost');
        } else {
          t.bio = new SSLBIO();
          t.bio.set_ssl(ssl, BIO_NOCLOSE);
          t.conn = new ConnectBIO();
          t.conn.set_conn_hostname('localhost');
          t.conn.set_conn_port(port);
          t.bio.push(t.conn);
        }
        hookOnce(ctx, 'keylog', () => onCallback(t));
        return await withTimeout(
          capture(() => (t.bio ? t.bio.do_connect() : ssl.connect())),
          10_000,
          'client handshake',
        );
      } finally {
        if (t.bio && !t.bio.is_freed) t.bio.free_all();
        if (t.conn && !t.conn.is_freed) t.conn.free();
        if (!ssl.is_freed) ssl.free();
        sock?.destroy();
        server.close();
      }
    },
  };
}

const scenarios: Scenario[] = [
  serverScenario('keylog', 'ssl', TLS1_3_VERSION),
  serverScenario('keylog', 'ssl', TLS1_2_VERSION),
  serverScenario('sni', 'ssl', TLS1_3_VERSION),
  serverScenario('keylog', 'bio', TLS1_3_VERSION),
  serverScenario('sni', 'bio', TLS1_2_VERSION),
  clientScenario('ssl'),
  clientScenario('bio'),
];

/** How the call made from inside the callback must end. */
type Inner = 'ok' | 'refused' | 'typed';
/** How the handshake call must end: done, ERR_TLS_CLOSED (its object was freed), or any typed error or success. */
type Outer = 'done' | 'closed' | 'typed';

interface Action {
  name: string;
  /** Which scenarios it applies to (default: all). */
  on?: (s: Scenario) => boolean;
  run(t: Target): unknown;
  inner: Inner;
  outer: Outer | ((s: Scenario) => Outer);
  /** Extra check right after the call, still inside the callback. */
  after?: (t: Target) => void;
}

const bioOnly = (s: Scenario) => s.driver === 'bio';
const isServer = (s: Scenario) => s.name.startsWith('server');

const actions: Action[] = [
  // free: deferred to the end of the running call.
  {
    name: 'ssl.free()',
    run: (t) => t.ssl.free(),
    inner: 'ok',
    // An SSLBIO holds its own reference to the SSL: the BIO's handshake goes on.
    outer: (s) => (s.driver === 'ssl' ? 'closed' : 'done'),
    after: (t) => assert.ok(t.ssl.is_freed, 'is_freed at once'),
  },
  {
    name: 'ssl.free() twice',
    run: (t) => {
      t.ssl.free();
      t.ssl.free();
    },
    inner: 'typed',
    outer: (s) => (s.driver === 'ssl' ? 'closed' : 'done'),
  },
  { name: 'bio.free()', on: bioOnly, run: (t) => t.bio!.free(), inner: 'ok', outer: 'closed', after: (t) => assert.ok(t.bio!.is_freed) },
  { name: 'bio.free_all()', on: bioOnly, run: (t) => t.bio!.free_all(), inner: 'ok', outer: 'closed' },
  { name: 'conn.free() under the SSLBIO', on: (s) => s.driver === 'bio' && !isServer(s), run: (t) => t.conn!.free(), inner: 'ok', outer: 'typed' },
  // Driving the SSL from inside its own handshake: refused.
  { name: 'ssl.accept()', run: (t) => t.ssl.accept(), inner: 'refused', outer: 'done' },
  { name: 'ssl.connect()', run: (t) => t.ssl.connect(), inner: 'refused', outer: 'done' },
  { name: 'ssl.read()', run: (t) => t.ssl.read(), inner: 'refused', outer: 'done' },
  { name: 'ssl.read_bytes()', run: (t) => t.ssl.read_bytes(), inner: 'refused', outer: 'done' },
  { name: 'ssl.write()', run: (t) => t.ssl.write('x'), inner: 'refused', outer: 'done' },
  { name: 'ssl.shutdown()', run: (t) => t.ssl.shutdown(), inner: 'refused', outer: 'done' },
  { name: 'ssl.set_fd()', run: (t) => t.ssl.set_fd(t.fd >= 0 ? t.fd : 0), inner: 'refused', outer: 'done' },
  { name: 'ssl.set_host()', run: (t) => t.ssl.set_host('example.com'), inner: 'refused', outer: 'done' },
  { name: 'ssl.set_connect_state()', run: (t) => t.ssl.set_connect_state(), inner: 'refused', outer: 'done' },
  { name: 'ssl.set_accept_state()', run: (t) => t.ssl.set_accept_state(), inner: 'refused', outer: 'done' },
  { name: 'ssl.set_alpn_protocols()', run: (t) => t.ssl.set_alpn_protocols(['h2']), inner: 'refused', outer: 'done' },
  { name: 'ssl.set_session()', run: (t) => t.ssl.set_session(Buffer.alloc(8)), inner: 'refused', outer: 'done' },
  { name: 'new SSLBIO().set_ssl(ssl)', run: (t) => new SSLBIO().set_ssl(t.ssl), inner: 'refused', outer: 'done' },
  // Read-only calls answer.
  {
    name: 'ssl read-only calls (info, get_session, session_reused, alpn, peer certificate, error, get_fd, get_pointer, timeout)',
    run: (t) => {
      t.ssl.info();
      t.ssl.get_session();
      t.ssl.session_reused();
      t.ssl.get_alpn_protocol();
      t.ssl.get_peer_certificate();
      t.ssl.error();
      t.ssl.get_fd();
      t.ssl.get_pointer();
      t.ssl.set_timeout(5000);
      return t.ssl.is_freed;
    },
    inner: 'ok',
    outer: 'done',
  },
  // The BIOs of the chain.
  { name: 'bio.read()', on: bioOnly, run: (t) => t.bio!.read(), inner: 'refused', outer: 'done' },
  { name: 'bio.write()', on: bioOnly, run: (t) => t.bio!.write('x'), inner: 'refused', outer: 'done' },
  { name: 'bio.do_connect()', on: bioOnly, run: (t) => t.bio!.do_connect(), inner: 'refused', outer: 'done' },
  { name: 'bio.do_accept()', on: bioOnly, run: (t) => t.bio!.do_accept(), inner: 'refused', outer: 'done' },
  { name: 'bio.pop()', on: bioOnly, run: (t) => t.bio!.pop(), inner: 'refused', outer: 'done' },
  { name: 'bio.push(new ConnectBIO())', on: bioOnly, run: (t) => t.bio!.push(new ConnectBIO()), inner: 'refused', outer: 'done' },
  { name: 'new SSLBIO().push(bio)', on: bioOnly, run: (t) => new SSLBIO().push(t.bio!), inner: 'refused', outer: 'done' },
  { name: 'conn.set_conn_port()', on: (s) => s.driver === 'bio' && !isServer(s), run: (t) => t.conn!.set_conn_port(1), inner: 'refused', outer: 'done' },
  { name: 'conn.read()', on: (s) => s.driver === 'bio' && !isServer(s), run: (t) => t.conn!.read(), inner: 'refused', outer: 'done' },
  {
    name: 'bio read-only calls (should_retry, error, error_string, get_fd, kind, timeout)',
    on: bioOnly,
    run: (t) => {
      t.bio!.should_retry();
      t.bio!.error();
      t.bio!.error_string();
      t.bio!.get_fd();
      t.bio!.set_timeout(5000);
      return t.bio!.kind;
    },
    inner: 'ok',
    outer: 'done',
  },
  // The context: its own rules (another object), but the process must survive and answer with a defined result.
  { name: 'ctx.set_ciphers()', run: (t) => t.ctx.set_ciphers('ECDHE-ECDSA-AES128-GCM-SHA256'), inner: 'typed', outer: 'typed' },
  { name: 'ctx.set_protocol_versions()', run: (t) => t.ctx.set_protocol_versions(TLS1_2_VERSION), inner: 'typed', outer: 'typed' },
  { name: 'ctx.set_verify()', run: (t) => t.ctx.set_verify(SSL_VERIFY_NONE), inner: 'typed', outer: 'typed' },
  { name: 'ctx.set_alpn_protocols()', run: (t) => t.ctx.set_alpn_protocols(['h2']), inner: 'typed', outer: 'typed' },
  { name: 'ctx.set_keylog_callback(null)', run: (t) => t.ctx.set_keylog_callback(null), inner: 'typed', outer: 'typed' },
  { name: 'ctx.set_servername_callback(null)', run: (t) => t.ctx.set_servername_callback(null), inner: 'typed', outer: 'typed' },
  { name: 'ctx.free()', run: (t) => t.ctx.free(), inner: 'typed', outer: 'typed' },
  { name: 'new SSL(ctx) then free()', run: (t) => new SSL(t.ctx).free(), inner: 'typed', outer: 'typed' },
];

function check(kind: Inner | Outer, got: Settled, label: string): void {
  if (kind === 'ok' || kind === 'done') {
    assert.ok(got.ok, `${label}: expected success, got ${got.ok ? '' : String((got as { error: unknown }).error)}`);
    return;
  }
  if (got.ok) {
    assert.ok(kind === 'typed', `${label}: expected an error`);
    return;
  }
  assert.instance(got.error, TlsError, `${label}: ${String(got.error)}`);
  const code = (got.error as TlsError).code;
  if (kind === 'refused') assert.is(code, 'ERR_TLS_STATE', label);
  if (kind === 'closed') {
    assert.is(code, 'ERR_TLS_CLOSED', label);
    assert.instance(got.error, ClosedError);
  }
}

for (const scenario of scenarios) {
  const s = suite(`re-entry: ${scenario.name}`);
  for (const action of actions) {
    if (action.on && !action.on(scenario)) continue;
    s(`${action.name} from inside the callback`, async () => {
      let inner: Promise<Settled> | undefined;
      let afterError: unknown;
      const outer = await scenario.run((t) => {
        inner = capture(() => action.run(t));
        try {
          action.after?.(t);
        } catch (err) {
          afterError = err;
        }
      });
      assert.ok(inner, 'the callback ran');
      if (afterError) throw afterError;
      check(action.inner, await inner!, 'the call from inside');
      const want = typeof action.outer === 'function' ? action.outer(scenario) : action.outer;
      check(want, outer, 'the handshake');
    });
  }
  s.run();
}

// ---------------------------------------------------------------------------
const getters = suite('re-entry: getters and Proxy traps inside arguments');

getters('set_alpn_protocols([getter that frees the SSL]): ClosedError, nothing reaches OpenSSL', () => {
  const ssl = new SSL(clientContext());
  const list: string[] = [];
  Object.defineProperty(list, 0, {
    enumerable: true,
    get() {
      if (!ssl.is_freed) ssl.free();
      return 'h2';
    },
  });
  list.length = 1;
  assert.throws(() => ssl.set_alpn_protocols(list), (e: unknown) => e instanceof ClosedError);
  assert.ok(ssl.is_freed);
});

getters('write(Proxy of a Uint8Array whose trap frees the SSL): ClosedError', async () => {
  const ssl = new SSL(clientContext());
  const bytes = new Uint8Array([1, 2, 3]);
  const proxy = new Proxy(bytes, {
    getPrototypeOf(t) {
      if (!ssl.is_freed) ssl.free();
      return Reflect.getPrototypeOf(t);
    },
    get(t, p) {
      const v = Reflect.get(t, p, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  const err = await ssl.write(proxy).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, TlsError);
  assert.ok(ssl.is_freed);
});

getters('set_ssl(Proxy of an SSL whose trap frees the BIO): a typed error, the SSL stays usable', () => {
  const ssl = new SSL(clientContext());
  const bio = new SSLBIO();
  const proxy = new Proxy(ssl, {
    getPrototypeOf(t) {
      if (!bio.is_freed) bio.free();
      return Reflect.getPrototypeOf(t);
    },
  });
  assert.throws(() => bio.set_ssl(proxy), (e: unknown) => e instanceof TlsError);
  assert.ok(bio.is_freed);
  assert.not.ok(ssl.is_freed);
  ssl.info();
  ssl.free();
});

getters.run();

// ---------------------------------------------------------------------------
// Found by the suite above (conn.free() from a callback), but not about
// callbacks: after a handshake the ConnectBIO under an SSLBIO is also the
// SSL's wbio, and OpenSSL's handshake buffering BIO, pushed on it and popped
// again, cleared its prev pointer, so BIO_pop left the SSLBIO pointing at
// the freed BIO: free_all() freed it twice.
const chain = suite('BIO chain after a handshake');

chain('free() of the ConnectBIO under a connected SSLBIO unlinks it; free_all() then frees the rest once', async () => {
  const server = tls.createServer({ cert: P.server.cert, key: P.server.key }, (s) => s.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const ssl = new SSL(clientContext());
    ssl.set_connect_state();
    const bio = new SSLBIO();
    bio.set_ssl(ssl, BIO_NOCLOSE);
    const conn = new ConnectBIO();
    conn.set_conn_hostname('localhost');
    conn.set_conn_port((server.address() as net.AddressInfo).port);
    bio.push(conn);
    await withTimeout(bio.do_connect(), 10_000, 'do_connect');
    assert.ok(bio.get_fd() >= 0);
    conn.free();
    assert.is(bio.get_fd(), -1, 'nothing is left under the SSLBIO');
    assert.is(bio.pop(), null);
    bio.free_all();
    ssl.free();
  } finally {
    server.close();
  }
});

chain.run();
