// The documented BIO family against real peers over 127.0.0.1: an HTTPS GET
// over SSLBIO + ConnectBIO against openssl s_server -www (TLS 1.2 and 1.3),
// an AcceptedBIO server for openssl s_client and node:tls clients, waits
// that never block the loop, chains, getters/setters, and misuse.
import { closeSync, openSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import {
  AF_INET,
  AF_INET6,
  AcceptedBIO,
  BIO,
  BIO_CLOSE,
  BIO_NOCLOSE,
  BIO_f_ssl,
  BIO_s_accept,
  BIO_s_connect,
  ConnectBIO,
  Pointer,
  SSL,
  SSLBIO,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLSClientContext,
  TLSContext,
  TLSServerContext,
  TLS_method,
  TlsError,
} from '@rxtls/core';

import { startGate } from '../helpers/gate.js';
import { rejectsWith } from '../helpers/assert.js';
import { freePort, withTimeout } from '../helpers/net.js';
import { runSClient, startSServer, type OpensslServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const P = pki();

function clientContext(version?: number): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(P.file('ca', 'crt'));
  if (version) ctx.set_protocol_versions(version, version);
  return ctx;
}

function serverContext(): TLSServerContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.server.cert, P.server.key);
  return ctx;
}

/** An SSL client chain, as BIO_new_ssl_connect builds: SSLBIO over a ConnectBIO. */
function sslConnect(host: string, port: number, ctx = clientContext(), option = BIO_CLOSE): { sb: SSLBIO; conn: ConnectBIO; ssl: SSL } {
  const ssl = new SSL(ctx);
  ssl.set_connect_state();
  const sb = new SSLBIO();
  sb.set_ssl(ssl, option);
  const conn = new ConnectBIO();
  conn.set_conn_hostname(host);
  conn.set_conn_port(port);
  assert.is(sb.push(conn), sb, 'push returns the head of the chain');
  return { sb, conn, ssl };
}

async function readAll(b: BIO): Promise<string> {
  let text = '';
  for (let i = 0; i < 100_000; i++) {
    const s = await b.read();
    if (s === '') return text;
    text += s;
  }
  throw new Error('too many reads');
}

// ---------------------------------------------------------------------------
const https = suite('BIO: HTTPS GET over SSLBIO pushed on a ConnectBIO against openssl s_server -www');
let www: OpensslServer;
https.before(async () => {
  www = await startSServer(['-www', '-cert', P.file('server', 'crt'), '-key', P.file('server', 'key')]);
});
https.after(async () => {
  await www.stop();
});

for (const [name, version] of [
  ['TLSv1.2', TLS1_2_VERSION],
  ['TLSv1.3', TLS1_3_VERSION],
] as const) {
  https(`GET / over ${name}: the page arrives whole, the host checked by name`, async () => {
    const { sb, conn, ssl } = sslConnect('localhost', www.port, clientContext(version));
    assert.is(await withTimeout(sb.do_connect(), 10_000, 'do_connect'), true);
    assert.is(ssl.info().protocol, name);
    assert.is(ssl.info().servername, 'localhost', 'SNI came from the connect BIO');
    assert.is(sb.should_retry(), false);
    assert.is(await sb.write('GET / HTTP/1.0\r\n\r\n'), 18);
    const page = await withTimeout(readAll(sb), 10_000, 'read');
    assert.match(page, /^HTTP\/1\.0 200 ok\r\n/);
    assert.match(page, /<\/BODY><\/HTML>\r?\n\r?\n?$/);
    assert.ok(ssl.info().receivedShutdown, 'ended with close_notify');
    assert.is(sb.error(), 0);
    sb.free();
    assert.ok(ssl.is_freed, 'BIO_CLOSE: freeing the BIO freed the SSL');
    conn.free();
  });
}

https('a BIO chain of IP address + numeric port; read_bytes gives the same page as bytes', async () => {
  const { sb, conn } = sslConnect('127.0.0.1', www.port);
  conn.set_conn_address('127.0.0.1');
  await sb.do_connect();
  assert.is(conn.get_conn_address(), '127.0.0.1');
  assert.is(conn.get_conn_family(), AF_INET);
  assert.ok(conn.get_fd() >= 0 && sb.get_fd() === conn.get_fd());
  await sb.write(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
  const parts: Buffer[] = [];
  for (let i = 0; i < 10_000; i++) {
    const b = await sb.read_bytes(4096);
    if (b.length === 0) break;
    parts.push(b);
  }
  assert.match(Buffer.concat(parts).toString('latin1'), /<\/HTML>/);
  sb.free_all();
  assert.ok(conn.is_freed, 'free_all freed the chain');
});

https('a default client refuses a self-signed server through the BIO, with the reason', async () => {
  const self = await startSServer(['-www', '-cert', P.file('selfSigned', 'crt'), '-key', P.file('selfSigned', 'key')]);
  try {
    const { sb, conn } = sslConnect('localhost', self.port, new TLSClientContext());
    const err = await rejectsWith(sb.do_connect(), 'ERR_TLS_CERT_VERIFY');
    assert.is((err as TlsError & { verifyCode: number }).verifyCode, 18);
    assert.ok(sb.error() !== 0);
    assert.match(sb.error_string(), /certificate verify failed/);
    assert.is(sb.error_string(sb.error()), sb.error_string());
    assert.ok(sb.error(sb.error()) > 0, 'the reason part');
    sb.free();
    conn.free();
  } finally {
    await self.stop();
  }
});

https("while do_connect() waits on a server that delays its handshake, a setInterval keeps firing", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  let openAt = Infinity;
  const gate = await startGate(www.port, () => ticks >= openAt);
  try {
    const { sb, conn } = sslConnect('localhost', gate.port);
    const before = ticks;
    // The gate forwards to s_server only after five more ticks of our timer.
    openAt = ticks + 5;
    await withTimeout(sb.do_connect(), 10_000, 'do_connect');
    assert.ok(ticks >= before + 5, `the timer fired ${ticks - before} times during do_connect()`);
    await sb.write('GET / HTTP/1.0\r\n\r\n');
    assert.match(await readAll(sb), /<\/HTML>/);
    sb.free();
    conn.free();
  } finally {
    clearInterval(timer);
    await gate.stop();
  }
});

https('a server that never answers: do_connect() waits, the loop runs, free() ends the wait', async () => {
  const held: net.Socket[] = [];
  const silent = net.createServer({ pauseOnConnect: true }, (s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const { sb, conn } = sslConnect('localhost', (silent.address() as net.AddressInfo).port);
    const pending = sb.do_connect();
    assert.ok(sb.should_retry(), 'the first attempt was answered with retry');
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (++ticks < 5) return;
        clearInterval(t);
        resolve();
      }, 1);
    });
    sb.free();
    await rejectsWith(pending, 'ERR_TLS_CLOSED', /freed while waiting/);
    conn.free();
  } finally {
    for (const s of held) s.destroy();
    await new Promise((r) => silent.close(r));
  }
});

https.run();

// ---------------------------------------------------------------------------
const accept = suite('BIO: an AcceptedBIO server');

/** Serves `count` TLS connections, one after another: reads one message, answers `echo i: …`. */
async function startBioServer(count: number): Promise<{ port: number; done: Promise<void>; acc: AcceptedBIO }> {
  const ctx = serverContext();
  const acc = new AcceptedBIO();
  acc.set_accept_name('127.0.0.1');
  acc.set_accept_port(0);
  assert.is(acc.get_accept_port(), '0');
  assert.is(await acc.do_accept(), true, 'the first do_accept binds and listens');
  const port = Number(acc.get_accept_port());
  assert.ok(port > 0, 'the real port once bound');
  const done = (async () => {
    for (let i = 0; i < count; i++) {
      await acc.do_accept();
      const conn = acc.pop();
      assert.instance(conn, BIO);
      assert.is(conn!.kind, 'socket');
      const ssl = new SSL(ctx);
      ssl.set_accept_state();
      const sb = new SSLBIO();
      sb.set_ssl(ssl, BIO_CLOSE);
      sb.push(conn!);
      await sb.do_accept();
      const msg = await sb.read();
      await sb.write(`echo ${i}: ${msg}`);
      sb.free(); // close_notify, then the SSL is freed with it
      assert.ok(ssl.is_freed);
      conn!.free();
    }
  })();
  return { port, done, acc };
}

accept('answers openssl s_client and node:tls clients, several in sequence', async () => {
  const server = await startBioServer(4);
  try {
    const sclient = async (i: number) => {
      const r = await runSClient(server.port, ['-quiet', '-servername', 'localhost', '-CAfile', P.file('ca', 'crt'), '-verify_return_error'], `hello ${i}\n`);
      assert.match(r.stdout, new RegExp(`echo ${i}: hello ${i}`), r.stderr);
    };
    const nodeClient = async (i: number) => {
      const c = tls.connect({ port: server.port, host: '127.0.0.1', servername: 'localhost', ca: P.ca.cert });
      c.setEncoding('utf8');
      let got = '';
      c.on('data', (d) => (got += d));
      await new Promise<void>((r, j) => {
        c.once('secureConnect', () => c.write(`hello node ${i}`));
        c.once('end', () => r());
        c.once('error', j);
      });
      c.end();
      assert.is(got, `echo ${i}: hello node ${i}`);
    };
    await withTimeout(sclient(0), 15_000, 's_client 0');
    await withTimeout(nodeClient(1), 15_000, 'node 1');
    await withTimeout(sclient(2), 15_000, 's_client 2');
    await withTimeout(nodeClient(3), 15_000, 'node 3');
    await withTimeout(server.done, 15_000, 'server');
  } finally {
    server.acc.free();
  }
});

accept('should_retry while do_accept waits; getters report the bound socket', async () => {
  const acc = new AcceptedBIO();
  assert.is(acc.get_fd(), -1);
  assert.is(acc.get_accept_family(), 0);
  acc.set_accept_name('127.0.0.1');
  acc.set_accept_port('0');
  acc.set_accept_family(AF_INET);
  await acc.do_accept();
  assert.is(acc.get_accept_name(), '127.0.0.1');
  assert.is(acc.get_accept_family(), AF_INET);
  assert.ok(acc.get_fd() >= 0);
  const port = Number(acc.get_accept_port());
  const pending = acc.do_accept();
  assert.ok(acc.should_retry(), 'no client yet: retry');
  // Plain TCP through the BIOs: a connect BIO as the client.
  const c = new ConnectBIO();
  c.set_conn_address('127.0.0.1');
  c.set_conn_port(port);
  await withTimeout(Promise.all([pending, c.do_connect()]), 10_000, 'accept + connect');
  assert.is(acc.should_retry(), false);
  const conn = acc.pop()!;
  assert.is(await c.write('ping'), 4);
  assert.is(await conn.read(), 'ping');
  await conn.write('pong');
  assert.is(await c.read(2), 'po');
  assert.is(await c.read(), 'ng');
  conn.free();
  assert.is(await c.read(), '', 'the peer closed: end of input');
  c.free();
  acc.free();
});

accept('IPv6: set_accept_name("::1") with AF_INET6, set_conn_address("::1")', async () => {
  const acc = new AcceptedBIO();
  acc.set_accept_family(AF_INET6);
  acc.set_accept_name('::1');
  acc.set_accept_port(0);
  await acc.do_accept();
  assert.is(acc.get_accept_family(), AF_INET6);
  assert.is(acc.get_accept_name(), '::1');
  const c = new ConnectBIO();
  c.set_conn_address('::1');
  c.set_conn_port(acc.get_accept_port());
  c.set_conn_family(AF_INET6);
  await withTimeout(Promise.all([acc.do_accept(), c.do_connect()]), 10_000, 'accept + connect');
  assert.is(c.get_conn_family(), AF_INET6);
  assert.is(c.get_conn_address(), '::1');
  acc.pop()!.free();
  c.free();
  acc.free();
});

accept('set_fd: a second accept BIO on the first one\'s listening descriptor (BIO_NOCLOSE leaves it open)', async () => {
  const a = new AcceptedBIO();
  a.set_accept_name('127.0.0.1');
  a.set_accept_port(0);
  await a.do_accept();
  const port = Number(a.get_accept_port());
  const b = new AcceptedBIO();
  b.set_fd(a.get_fd());
  assert.is(b.get_fd(), a.get_fd());
  for (const acceptor of [b, a]) {
    const c = new ConnectBIO();
    c.set_conn_address('127.0.0.1');
    c.set_conn_port(port);
    const [got] = await withTimeout(Promise.all([acceptor.do_accept(), c.do_connect()]), 10_000, 'accept + connect');
    assert.ok(got);
    const conn = acceptor.pop()!;
    await c.write('x');
    assert.is(await conn.read(), 'x');
    conn.free();
    c.free();
    if (acceptor === b) b.free(); // BIO_NOCLOSE: a's descriptor stays open
  }
  a.free();
});

accept.run();

// ---------------------------------------------------------------------------
const modes = suite('BIO: set_non_blocking, against a node:tls server');

modes('non-blocking write resolves after one write; blocking write writes everything', async () => {
  let received = 0;
  let resolveAll: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const big = Buffer.alloc(100_000, 0x61);
  const srv = tls.createServer({ key: P.server.key, cert: P.server.cert }, (s) => {
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (received === big.length * 2) resolveAll();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const { sb, conn } = sslConnect('localhost', (srv.address() as net.AddressInfo).port);
    assert.ok(sb.non_blocking);
    await sb.do_connect();
    let sent = 0;
    const first = await sb.write(big);
    assert.ok(first > 0 && first <= 16384, `one TLS record at most: ${first}`);
    sent += first;
    while (sent < big.length) sent += await sb.write(big.subarray(sent));
    sb.set_non_blocking(false);
    assert.not.ok(sb.non_blocking);
    assert.is(await sb.write(big), big.length);
    await withTimeout(all, 10_000, 'server received');
    sb.set_non_blocking();
    assert.ok(sb.non_blocking);
    sb.free();
    conn.free();
  } finally {
    srv.close();
  }
});

modes('set_ssl(ssl, BIO_NOCLOSE) leaves the SSL usable after the BIO is freed', () => {
  const ssl = new SSL(clientContext());
  const sb = new SSLBIO();
  sb.set_ssl(ssl); // BIO_NOCLOSE by default
  assert.is(sb.ssl, ssl);
  sb.free();
  assert.not.ok(ssl.is_freed);
  ssl.free();
  const ssl2 = new SSL(clientContext());
  const sb2 = new SSLBIO();
  sb2.set_ssl(ssl2, BIO_NOCLOSE);
  ssl2.free(); // the BIO keeps its own reference: no use after free
  sb2.free();
});

modes.run();

// ---------------------------------------------------------------------------
const chains = suite('BIO: chains (push/pop), constants, pointers');

chains('the method constants and constructors', () => {
  for (const m of [BIO_f_ssl, BIO_s_connect, BIO_s_accept]) {
    assert.instance(m, Pointer);
    assert.is(m.kind, 'BIO_METHOD');
  }
  assert.is(BIO_CLOSE, 1);
  assert.is(BIO_NOCLOSE, 0);
  assert.is(new BIO(BIO_f_ssl).kind, 'ssl');
  assert.is(new SSLBIO().kind, 'ssl');
  assert.is(new BIO(BIO_s_connect).kind, 'connect');
  assert.is(new ConnectBIO().kind, 'connect');
  assert.is(new BIO(BIO_s_accept).kind, 'accept');
  assert.is(new AcceptedBIO().kind, 'accept');
  assert.ok(new ConnectBIO().method!.equals(BIO_s_connect));
  const b = new SSLBIO();
  const p = b.get_pointer();
  assert.is(p.kind, 'BIO');
  assert.ok(p.equals(b.get_pointer()));
  b.free();
});

chains('push appends at the end and returns the head; pop takes a BIO out and returns what followed', () => {
  const x = new SSLBIO();
  const y = new SSLBIO();
  const z = new ConnectBIO();
  assert.is(x.push(y), x);
  assert.is(x.push(z), x, 'z goes after y, at the end');
  assert.is(y.pop(), z, 'y leaves; x -> z remains');
  assert.is(y.pop(), null);
  assert.is(x.pop(), z);
  assert.is(x.pop(), null);
  assert.is(z.pop(), null);
  // free() in the middle of a chain joins its neighbours.
  x.push(y);
  x.push(z);
  y.free();
  assert.is(x.pop(), z);
  x.free();
  z.free();
});

chains('the connection setters and getters', () => {
  const c = new ConnectBIO();
  assert.is(c.get_conn_hostname(), '');
  assert.is(c.get_conn_port(), '');
  assert.is(c.get_conn_address(), '');
  assert.is(c.get_conn_family(), 0);
  assert.is(c.get_fd(), -1);
  c.set_conn_hostname('example.test');
  c.set_conn_port(443);
  assert.is(c.get_conn_hostname(), 'example.test');
  assert.is(c.get_conn_port(), '443');
  c.set_conn_port('https');
  assert.is(c.get_conn_port(), 'https');
  c.set_conn_address('10.1.2.3');
  assert.is(c.get_conn_hostname(), '10.1.2.3');
  assert.is(c.get_conn_address(), '10.1.2.3');
  c.set_conn_family(AF_INET6);
  assert.is(c.get_conn_family(), AF_INET6);
  c.set_conn_family(AF_INET);
  assert.is(c.get_conn_family(), AF_INET);
  // Through a chain: the setters reach the connect BIO under an SSL BIO.
  const sb = new SSLBIO();
  sb.push(c);
  sb.set_conn_hostname('localhost');
  assert.is(c.get_conn_hostname(), 'localhost');
  sb.free();
  c.free();
  const a = new AcceptedBIO();
  a.set_accept_port(8443);
  a.set_accept_name('localhost');
  assert.is(a.get_accept_name(), 'localhost');
  assert.is(a.get_accept_port(), '8443');
  a.free();
});

chains.run();

// ---------------------------------------------------------------------------
const misuse = suite('BIO: misuse throws a clear error; the process survives');

misuse('a wrong method', async () => {
  await rejectsWith(() => new BIO(TLS_method), 'ERR_TLS_INVALID_ARGUMENT', /BIO_\* method/);
  await rejectsWith(() => new BIO({} as Pointer), 'ERR_TLS_INVALID_ARGUMENT', /method/);
  await rejectsWith(() => new BIO(undefined as unknown as Pointer), 'ERR_TLS_INVALID_ARGUMENT');
  await rejectsWith(() => new BIO(new Pointer('BIO_METHOD', 12345n)), 'ERR_TLS_INVALID_ARGUMENT', /BIO_f_ssl, BIO_s_connect or BIO_s_accept/);
});

misuse('a chain with a cycle, or a BIO already in a chain', async () => {
  const a = new SSLBIO();
  const b = new SSLBIO();
  const c = new ConnectBIO();
  await rejectsWith(() => a.push(a), 'ERR_TLS_INVALID_ARGUMENT', /cycle/);
  a.push(b);
  await rejectsWith(() => b.push(a), 'ERR_TLS_INVALID_ARGUMENT', /cycle/);
  b.push(c);
  await rejectsWith(() => c.push(a), 'ERR_TLS_INVALID_ARGUMENT', /cycle/);
  const d = new SSLBIO();
  await rejectsWith(() => d.push(b), 'ERR_TLS_STATE', /already in a chain/);
  await rejectsWith(() => a.push({} as BIO), 'ERR_TLS_INVALID_ARGUMENT', /"b"/);
  a.free_all();
  assert.ok(a.is_freed && b.is_freed && c.is_freed);
  d.free();
});

misuse('wrong kind of BIO, wrong order, wrong arguments', async () => {
  const c = new ConnectBIO();
  const a = new AcceptedBIO();
  const sb = new SSLBIO();
  const ssl = new SSL(clientContext());
  await rejectsWith(() => c.set_ssl(ssl), 'ERR_TLS_STATE', /BIO_f_ssl/);
  await rejectsWith(() => sb.set_ssl({} as SSL), 'ERR_TLS_INVALID_ARGUMENT', /"ssl"/);
  await rejectsWith(() => sb.set_ssl(ssl, 7), 'ERR_TLS_INVALID_ARGUMENT', /BIO_CLOSE or BIO_NOCLOSE/);
  await rejectsWith(sb.read(), 'ERR_TLS_STATE', /before set_ssl/);
  sb.set_ssl(ssl);
  await rejectsWith(() => sb.set_ssl(ssl), 'ERR_TLS_STATE', /already/);
  await rejectsWith(sb.write('x'), 'ERR_TLS_STATE', /nothing under it/);
  await rejectsWith(sb.do_accept(), 'ERR_TLS_STATE', /connect state/);
  await rejectsWith(a.do_connect(), 'ERR_TLS_STATE', /do_accept/);
  const noRole = new SSLBIO();
  noRole.set_ssl(new SSL(new TLSContext()));
  noRole.push(new ConnectBIO());
  await rejectsWith(noRole.do_accept(), 'ERR_TLS_STATE', /set_connect_state\(\)\/set_accept_state\(\)/);
  noRole.free_all();
  await rejectsWith(c.do_accept(), 'ERR_TLS_STATE', /do_connect/);
  await rejectsWith(() => a.set_conn_hostname('x'), 'ERR_TLS_STATE', /BIO_s_connect/);
  await rejectsWith(() => c.set_accept_port(1), 'ERR_TLS_STATE', /BIO_s_accept/);
  await rejectsWith(() => c.set_conn_port(70_000), 'ERR_TLS_INVALID_ARGUMENT', /"port"/);
  await rejectsWith(() => c.set_conn_port(''), 'ERR_TLS_INVALID_ARGUMENT', /"port"/);
  await rejectsWith(() => c.set_conn_hostname(5 as unknown as string), 'ERR_TLS_INVALID_ARGUMENT', /"name"/);
  await rejectsWith(() => c.set_conn_address('not-an-ip'), 'ERR_TLS_INVALID_ARGUMENT', /"address"/);
  await rejectsWith(() => c.set_conn_family(99), 'ERR_TLS_INVALID_ARGUMENT', /AF_INET/);
  await rejectsWith(() => sb.set_fd(0), 'ERR_TLS_STATE', /SSL BIO/);
  const file = openSync(process.execPath, 'r');
  try {
    await rejectsWith(() => a.set_fd(file), 'ERR_TLS_INVALID_ARGUMENT', /socket/);
  } finally {
    closeSync(file);
  }
  await rejectsWith(() => a.set_fd(3, 9), 'ERR_TLS_INVALID_ARGUMENT', /BIO_CLOSE or BIO_NOCLOSE/);
  await rejectsWith(() => c.set_non_blocking('yes' as unknown as boolean), 'ERR_TLS_INVALID_ARGUMENT');
  await rejectsWith(c.read(0), 'ERR_TLS_INVALID_ARGUMENT', /"length"/);
  await rejectsWith(c.write(5 as unknown as string), 'ERR_TLS_INVALID_ARGUMENT', /"data"/);
  await rejectsWith(() => c.error(-1), 'ERR_TLS_INVALID_ARGUMENT');
  // A refused connection: a socket error with OpenSSL's reason, recorded for error().
  c.set_conn_address('127.0.0.1');
  c.set_conn_port(await freePort());
  await rejectsWith(c.do_connect(), 'ERR_TLS_SOCKET', /connect failed: Connection refused/);
  assert.ok(c.error() !== 0);
  assert.ok(c.error_string().length > 0);
  for (const b of [c, a, sb]) b.free();
  ssl.free();
});

misuse('I/O after free() and a second free() throw ERR_TLS_CLOSED', async () => {
  const all = [new SSLBIO(), new ConnectBIO(), new AcceptedBIO()];
  const other = new ConnectBIO();
  for (const b of all) {
    b.free();
    assert.ok(b.is_freed);
    await rejectsWith(() => b.free(), 'ERR_TLS_CLOSED', /already been freed/);
    await rejectsWith(() => b.free_all(), 'ERR_TLS_CLOSED', /already been freed/);
    for (const call of [
      () => b.read(),
      () => b.read_bytes(),
      () => b.write('x'),
      () => b.do_connect(),
      () => b.do_accept(),
      () => b.push(other),
      () => other.push(b),
      () => b.pop(),
      () => b.should_retry(),
      () => b.get_fd(),
      () => b.set_fd(0),
      () => b.set_non_blocking(true),
      () => b.set_ssl(new SSL(clientContext())),
      () => b.set_conn_hostname('x'),
      () => b.set_conn_port(1),
      () => b.set_conn_address('127.0.0.1'),
      () => b.set_conn_family(AF_INET),
      () => b.set_accept_name('x'),
      () => b.set_accept_port(1),
      () => b.set_accept_family(AF_INET),
      () => b.get_conn_hostname(),
      () => b.get_conn_address(),
      () => b.get_conn_port(),
      () => b.get_conn_family(),
      () => b.get_accept_name(),
      () => b.get_accept_port(),
      () => b.get_accept_family(),
      () => b.error(),
      () => b.error_string(),
      () => b.get_pointer(),
    ])
      await rejectsWith(call, 'ERR_TLS_CLOSED', /freed/);
  }
  other.free();
});

misuse.run();
