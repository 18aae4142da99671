// SSLContext and its six subclasses, and the documented constants: every
// member, against real peers (openssl s_server/s_client, node:tls) over
// 127.0.0.1 through TLSSocket.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

import {
  BIO_CLOSE,
  BIO_NOCLOSE,
  CertificateError,
  ClosedError,
  ConfigError,
  InvalidArgumentError,
  Pointer,
  SSLContext,
  SSLv23ClientContext,
  SSLv23Context,
  SSLv23ServerContext,
  SSLv23_client_method,
  SSLv23_method,
  SSLv23_server_method,
  SSL_FILETYPE_ASN1,
  SSL_FILETYPE_PEM,
  SSL_VERIFY_CLIENT_ONCE,
  SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
  SSL_VERIFY_NONE,
  SSL_VERIFY_PEER,
  SSL_VERIFY_POST_HANDSHAKE,
  Socket,
  TLSClientContext,
  TLSContext,
  TLSServerContext,
  TLSSocket,
  TLS1_2_VERSION,
  TLS_client_method,
  TLS_method,
  TLS_server_method,
  issueCertificate,
  type TlsError,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { runSClient, startSServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const P = pki();
const invalidArgument = (e: unknown) => e instanceof InvalidArgumentError && e.code === 'ERR_TLS_INVALID_ARGUMENT';

/** A listening rxtls server on 127.0.0.1 with `ctx`. */
async function listenWith(ctx: SSLContext): Promise<TLSSocket> {
  const server = new TLSSocket(new Socket(), ctx);
  await server.bind(0, '127.0.0.1');
  await server.listen();
  return server;
}

/** Connects a TLSSocket client with `ctx` and returns the error it fails with (throws if it connects). */
async function connectError(ctx: SSLContext, host: string, port: number): Promise<TlsError> {
  const client = new TLSSocket(new Socket(), ctx);
  try {
    await withTimeout(client.connect(host, port), 10_000, 'connect');
  } catch (err) {
    assert.ok(client.is_closed, 'a failed connect closes the socket');
    return err as TlsError;
  }
  client.close();
  throw new Error('connect unexpectedly succeeded');
}

// ---------------------------------------------------------------------------
const Constants = suite('constants');

Constants('have OpenSSL values', () => {
  assert.is(SSL_FILETYPE_PEM, 1);
  assert.is(SSL_FILETYPE_ASN1, 2);
  assert.is(SSL_VERIFY_NONE, 0);
  assert.is(SSL_VERIFY_PEER, 1);
  assert.is(SSL_VERIFY_FAIL_IF_NO_PEER_CERT, 2);
  assert.is(SSL_VERIFY_CLIENT_ONCE, 4);
  assert.is(SSL_VERIFY_POST_HANDSHAKE, 8);
  assert.is(BIO_CLOSE, 1);
  assert.is(BIO_NOCLOSE, 0);
});

Constants('method constants are opaque SSL_METHOD handles; SSLv23 names are the TLS methods', () => {
  for (const m of [TLS_method, TLS_client_method, TLS_server_method]) {
    assert.instance(m, Pointer);
    assert.is(m.kind, 'SSL_METHOD');
  }
  assert.not.ok(TLS_method.equals(TLS_client_method));
  assert.ok(SSLv23_method.equals(TLS_method));
  assert.ok(SSLv23_client_method.equals(TLS_client_method));
  assert.ok(SSLv23_server_method.equals(TLS_server_method));
});

Constants.run();

// ---------------------------------------------------------------------------
const Ctor = suite('SSLContext(method) and the six subclasses');

Ctor('takes each method handle and refuses anything else', () => {
  for (const m of [TLS_method, TLS_client_method, TLS_server_method, SSLv23_method, SSLv23_client_method, SSLv23_server_method]) {
    const ctx = new SSLContext(m);
    assert.ok(ctx.method.equals(m));
    ctx.free();
  }
  for (const bad of [undefined, 1, 'TLS_method', new Pointer('SSL_CTX', 1n)])
    assert.throws(() => new SSLContext(bad as never), (e: TlsError) => e instanceof InvalidArgumentError && e.code === 'ERR_TLS_INVALID_ARGUMENT');
});

Ctor('each subclass extends SSLContext with its method', () => {
  const cases: Array<[new () => SSLContext, Pointer]> = [
    [TLSContext, TLS_method],
    [TLSClientContext, TLS_client_method],
    [TLSServerContext, TLS_server_method],
    [SSLv23Context, SSLv23_method],
    [SSLv23ClientContext, SSLv23_client_method],
    [SSLv23ServerContext, SSLv23_server_method],
  ];
  for (const [Class, method] of cases) {
    const ctx = new Class();
    assert.instance(ctx, SSLContext);
    assert.ok(ctx.method.equals(method), Class.name);
    ctx.free();
  }
});

Ctor('a client-only context cannot accept and a server-only context cannot connect', async () => {
  const serverCtx = new TLSClientContext();
  serverCtx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  const server = await listenWith(serverCtx);
  const accepted = server.accept().catch((e: TlsError) => e);
  const client = new TLSSocket(new Socket(), new TLSServerContext());
  const err = await client.connect('127.0.0.1', server.port).catch((e: TlsError) => e);
  assert.is((err as TlsError).code, 'ERR_TLS_STATE');
  const serverErr = await accepted;
  assert.is((serverErr as TlsError).code, 'ERR_TLS_STATE');
  server.close();
});

Ctor.run();

// ---------------------------------------------------------------------------
const Verify = suite('default verification, set_verify and set_verify_locations');

Verify('a default client refuses a self-signed server, with the reason', async () => {
  const s = await startSServer(['-cert', P.file('selfSigned', 'crt'), '-key', P.file('selfSigned', 'key'), '-www']);
  try {
    const err = await connectError(new TLSClientContext(), 'localhost', s.port);
    assert.instance(err, CertificateError);
    assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
    assert.is((err as CertificateError).verifyCode, 18);
    assert.is((err as CertificateError).verifyMessage, 'self-signed certificate');
  } finally {
    await s.stop();
  }
});

Verify('a default client refuses a certificate for another host name, with the reason', async () => {
  const s = await startSServer(['-cert', P.file('otherHost', 'crt'), '-key', P.file('otherHost', 'key'), '-www']);
  try {
    const ctx = new TLSClientContext();
    ctx.set_verify_locations(P.file('ca', 'crt'));
    const err = await connectError(ctx, 'localhost', s.port);
    assert.instance(err, CertificateError);
    assert.is((err as CertificateError).verifyCode, 62);
    assert.is((err as CertificateError).verifyMessage, 'hostname mismatch');
  } finally {
    await s.stop();
  }
});

Verify('a default client with the CA from set_verify_locations connects (file, directory, PEM text)', async () => {
  const s = await startSServer(['-cert', P.file('server', 'crt'), '-key', P.file('server', 'key'), '-www']);
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-cadir-'));
  try {
    // Without the CA: refused (unable to get local issuer certificate).
    const refused = await connectError(new TLSClientContext(), 'localhost', s.port);
    assert.is((refused as CertificateError).verifyCode, 20);
    copyFileSync(P.file('ca', 'crt'), join(dir, 'ca.pem'));
    execFileSync('openssl', ['rehash', dir]);
    for (const location of [P.file('ca', 'crt'), dir, P.ca.cert]) {
      const ctx = new TLSClientContext();
      assert.is(ctx.set_verify_locations(location), true);
      const client = new TLSSocket(new Socket(), ctx);
      assert.is(await withTimeout(client.connect('localhost', s.port), 10_000, 'connect'), true);
      assert.is(client.get_session_info()!.verifyResult, 0);
      await client.send('GET / HTTP/1.0\r\n\r\n');
      assert.match(await client.read(-1).catch(() => ''), /HTTP\/1\.0 200 ok/);
      client.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s.stop();
  }
});

Verify('set_verify_locations fails with OpenSSL reason for a missing file', () => {
  const ctx = new TLSClientContext();
  assert.throws(
    () => ctx.set_verify_locations('/nonexistent/ca.pem'),
    (e: TlsError) => e instanceof ConfigError && e.code === 'ERR_TLS_CONFIG' && typeof e.reason === 'string',
  );
  assert.throws(() => ctx.set_verify_locations(42 as never), invalidArgument);
});

Verify('an explicit SSL_VERIFY_NONE on a client checks but continues (the result is reported)', async () => {
  const s = await startSServer(['-cert', P.file('selfSigned', 'crt'), '-key', P.file('selfSigned', 'key'), '-www']);
  try {
    const ctx = new TLSClientContext();
    ctx.set_verify(SSL_VERIFY_NONE);
    const client = new TLSSocket(new Socket(), ctx);
    assert.ok(await withTimeout(client.connect('localhost', s.port), 10_000, 'connect'));
    assert.is(client.get_session_info()!.verifyResult, 18);
    client.close();
  } finally {
    await s.stop();
  }
});

Verify('set_verify refuses modifier flags without SSL_VERIFY_PEER and unknown bits', () => {
  const ctx = new TLSServerContext();
  assert.throws(() => ctx.set_verify(SSL_VERIFY_FAIL_IF_NO_PEER_CERT), invalidArgument);
  assert.throws(() => ctx.set_verify(0x100), invalidArgument);
  ctx.set_verify(SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE | SSL_VERIFY_POST_HANDSHAKE);
});

Verify('a default server asks for no client certificate', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  const server = await listenWith(ctx);
  try {
    const accepted = server.accept();
    const client = tls.connect({ host: '127.0.0.1', port: server.port, ca: P.ca.cert, servername: 'localhost', cert: P.client.cert, key: P.client.key });
    client.on('error', () => {});
    const peer = await withTimeout(accepted, 10_000, 'accept');
    assert.is(peer.get_peer_certificate(), null);
    peer.close();
    client.destroy();
  } finally {
    server.close();
  }
});

Verify('a server with SSL_VERIFY_PEER | FAIL_IF_NO_PEER_CERT refuses a client without a certificate and accepts one with', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  ctx.set_verify(SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  ctx.set_verify_locations(P.file('ca', 'crt'));
  const server = await listenWith(ctx);
  try {
    const refused = server.accept().catch((e: TlsError) => e);
    const bare = tls.connect({ host: '127.0.0.1', port: server.port, ca: P.ca.cert, servername: 'localhost' });
    bare.on('error', () => {});
    const err = (await withTimeout(refused, 10_000, 'refused')) as TlsError;
    assert.is(err.code, 'ERR_TLS_HANDSHAKE');
    bare.destroy();

    const accepted = server.accept();
    const withCert = tls.connect({ host: '127.0.0.1', port: server.port, ca: P.ca.cert, servername: 'localhost', cert: P.client.cert, key: P.client.key });
    withCert.on('error', () => {});
    const peer = await withTimeout(accepted, 10_000, 'accept');
    assert.is(peer.get_peer_certificate()!.subject.CN, 'rxtls test client');
    peer.close();
    withCert.destroy();
  } finally {
    server.close();
  }
});

Verify.run();

// ---------------------------------------------------------------------------
const Certs = suite('load_certs');

/** Serves one connection with `ctx` to `openssl s_client` and returns what s_client printed. */
async function sClientAgainst(ctx: SSLContext, extra: string[] = []): Promise<string> {
  const server = await listenWith(ctx);
  try {
    const served = (async () => {
      const peer = await server.accept();
      await peer.send('served by rxtls\n');
      await peer.read(5).catch(() => '');
      peer.close();
    })();
    // A refused handshake rejects before s_client is done: handled here, not unhandled.
    served.catch(() => {});
    const r = await runSClient(server.port, ['-CAfile', P.file('ca', 'crt'), '-servername', 'localhost', '-verify_return_error', '-ign_eof', ...extra], 'ping\n');
    await withTimeout(served.catch(() => {}), 10_000, 'served');
    return r.stdout + r.stderr;
  } finally {
    server.close();
  }
}

Certs('from paths: openssl s_client verifies the chain', async () => {
  const ctx = new TLSServerContext();
  assert.is(ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key')), true);
  const out = await sClientAgainst(ctx);
  assert.match(out, 'served by rxtls');
  assert.match(out, /Verify return code: 0 \(ok\)/);
});

Certs('from open files (FileHandle), also ones already read from', async () => {
  const cert = await open(P.file('server', 'crt'));
  const key = await open(P.file('server', 'key'));
  try {
    await cert.read(Buffer.alloc(10), 0, 10, null); // moves the file position
    const ctx = new TLSServerContext();
    assert.is(ctx.load_certs(cert, key), true);
    assert.match(await sClientAgainst(ctx), 'served by rxtls');
  } finally {
    await cert.close();
    await key.close();
  }
  const closed = await open(P.file('server', 'crt'));
  await closed.close();
  assert.throws(() => new TLSServerContext().load_certs(closed, P.file('server', 'key')), invalidArgument);
});

Certs('from PEM text and from DER (SSL_FILETYPE_ASN1)', async () => {
  const ctx = new TLSServerContext();
  assert.is(ctx.load_certs(P.server.cert, P.server.key), true);
  assert.match(await sClientAgainst(ctx), 'served by rxtls');

  const der = execFileSync('openssl', ['x509', '-in', P.file('server', 'crt'), '-outform', 'DER']);
  const derKey = execFileSync('openssl', ['pkey', '-in', P.file('server', 'key'), '-outform', 'DER']);
  const ctxDer = new TLSServerContext();
  assert.is(ctxDer.load_certs(der, derKey, SSL_FILETYPE_ASN1), true);
  assert.match(await sClientAgainst(ctxDer), 'served by rxtls');
});

Certs('a key that does not match, a missing file, a bad argument: errors with the reason', () => {
  const ctx = new TLSServerContext();
  assert.throws(
    () => ctx.load_certs(P.file('server', 'crt'), P.file('client', 'key')),
    (e: TlsError) => e instanceof ConfigError && /key/i.test(`${e.message} ${e.reason}`),
  );
  assert.throws(() => ctx.load_certs('/nonexistent.crt', P.file('server', 'key')), (e: TlsError) => e instanceof ConfigError && !!e.reason);
  assert.throws(() => ctx.load_certs(42 as never, P.file('server', 'key')), invalidArgument);
  assert.throws(() => ctx.load_certs(P.server.cert, P.server.key, 7), invalidArgument);
});

Certs.run();

// ---------------------------------------------------------------------------
const Ciphers = suite('set_ciphers');

Ciphers('a TLS 1.2 cipher list is what gets negotiated (openssl s_client)', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  assert.is(ctx.set_ciphers('ECDHE-ECDSA-AES128-GCM-SHA256'), true);
  const out = await sClientAgainst(ctx, ['-tls1_2']);
  assert.match(out, /Cipher is ECDHE-ECDSA-AES128-GCM-SHA256/);
});

Ciphers('CBC suites are off by default (ECDHE-RSA-AES128-SHA…); set_ciphers turns one back on (AES128-SHA, openssl s_client -tls1_2)', async () => {
  // AES128-SHA is RSA key transport: it needs an RSA certificate.
  const rsa = issueCertificate(P.ca, { commonName: 'localhost', keyType: 'rsa' });
  const byDefault = new TLSServerContext();
  byDefault.load_certs(rsa.cert, rsa.key);
  const refused = await sClientAgainst(byDefault, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:AES128-SHA']);
  assert.not.match(refused, 'served by rxtls');
  assert.match(refused, /handshake failure|alert/);

  const ctx = new TLSServerContext();
  ctx.load_certs(rsa.cert, rsa.key);
  assert.is(ctx.set_ciphers('AES128-SHA'), true);
  const out = await sClientAgainst(ctx, ['-tls1_2', '-cipher', 'AES128-SHA']);
  assert.match(out, 'served by rxtls');
  assert.match(out, /Cipher is AES128-SHA\n/);
});

Ciphers('TLS 1.3 suite names set the TLS 1.3 suites', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  assert.is(ctx.set_ciphers('TLS_CHACHA20_POLY1305_SHA256'), true);
  const out = await sClientAgainst(ctx, ['-tls1_3']);
  assert.match(out, /TLS_CHACHA20_POLY1305_SHA256/);
});

Ciphers('no usable cipher, or not a string: errors', () => {
  const ctx = new TLSServerContext();
  assert.throws(() => ctx.set_ciphers('NOT-A-CIPHER'), (e: TlsError) => e instanceof ConfigError && !!e.reason);
  assert.throws(() => ctx.set_ciphers(''), invalidArgument);
  assert.throws(() => ctx.set_ciphers(1 as never), invalidArgument);
});

Ciphers.run();

// ---------------------------------------------------------------------------
const Life = suite('get_pointer and free');

Life('get_pointer returns the same SSL_CTX handle each time, distinct per context', () => {
  const a = new TLSContext();
  const b = new TLSContext();
  assert.instance(a.get_pointer(), Pointer);
  assert.is(a.get_pointer().kind, 'SSL_CTX');
  assert.ok(a.get_pointer().equals(a.get_pointer()));
  assert.not.ok(a.get_pointer().equals(b.get_pointer()));
  a.free();
  b.free();
});

Life('after free every method throws ClosedError', () => {
  const ctx = new TLSServerContext();
  ctx.free();
  assert.ok(ctx.is_freed);
  const calls: Array<() => unknown> = [
    () => ctx.set_verify(SSL_VERIFY_NONE),
    () => ctx.set_verify_locations(P.file('ca', 'crt')),
    () => ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key')),
    () => ctx.set_ciphers('ECDHE-ECDSA-AES128-GCM-SHA256'),
    () => ctx.set_protocol_versions(TLS1_2_VERSION),
    () => ctx.get_pointer(),
    () => ctx.free(),
  ];
  for (const call of calls) assert.throws(call, (e: TlsError) => e instanceof ClosedError && e.code === 'ERR_TLS_CLOSED');
});

Life('a connection made before free keeps working; new ones fail with ClosedError', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  const server = await listenWith(ctx);
  try {
    const accepted = server.accept();
    const clientCtx = new TLSClientContext();
    clientCtx.set_verify_locations(P.file('ca', 'crt'));
    const client = new TLSSocket(new Socket(), clientCtx);
    await client.connect('localhost', server.port);
    const peer = await accepted;
    ctx.free();
    await client.send('still there?');
    assert.is(await peer.read(12), 'still there?');
    await peer.send('yes');
    assert.is(await client.receive(), 'yes');
    client.close();
    peer.close();

    const next = server.accept().catch((e: TlsError) => e);
    const late = new TLSSocket(new Socket(), clientCtx);
    const lateConnect = late.connect('localhost', server.port).catch((e: TlsError) => e);
    assert.instance(await next, ClosedError);
    assert.ok((await lateConnect) instanceof Error);
  } finally {
    server.close();
  }
});

Life('the page: load_certs and set_ciphers return true, set_verify nothing', () => {
  const ctx = new TLSServerContext();
  assert.is(ctx.set_verify(SSL_VERIFY_NONE), undefined);
  assert.is(ctx.load_certs(readFileSync(P.file('server', 'crt'), 'utf8'), P.server.key), true);
  assert.is(ctx.set_ciphers('ECDHE-ECDSA-AES256-GCM-SHA384'), true);
  ctx.free();
});

Life.run();
