// Each failure ends with a clear error (code and reason) and no hang.
import * as net from 'node:net';

import { connectTls, createTlsServer, type CertificateAndKey, type TlsError } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { runSClient, startSServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { closeServer, listenLocal } from '../helpers/transports.js';

const listen = listenLocal;
const close = closeServer;

/** Connects and resolves with the error the client ends with (rejects if it succeeds). */
function clientError(options: Parameters<typeof connectTls>[0]): Promise<TlsError> {
  return withTimeout(
    new Promise<TlsError>((resolve, reject) => {
      const engine = connectTls(options);
      engine.onsecure = () => reject(new Error('handshake unexpectedly succeeded'));
      engine.onclose = (err) => (err ? resolve(err) : reject(new Error('closed without error')));
    }),
    10_000,
    'client error',
  );
}

/** An rxtls server (the native transport) with `pair`, recording each connection's error. */
async function rxtlsServer(pair: CertificateAndKey) {
  const errors: TlsError[] = [];
  const server = createTlsServer({ cert: pair.cert, key: pair.key }, (engine) => {
    engine.onerror = (err) => errors.push(err);
  });
  // A handshake that fails never reaches the handler.
  server.on('tlsClientError', (err: TlsError) => errors.push(err));
  return { server, errors, port: await listen(server) };
}

const Cert = suite('certificate failures');

Cert('an untrusted (self-signed) server is rejected by default, with the verify reason', async () => {
  const { server, port } = await rxtlsServer(pki().selfSigned);
  try {
    const err = await clientError({ host: 'localhost', port });
    assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
    assert.is((err as TlsError & { verifyCode: number }).verifyCode, 18); // DEPTH_ZERO_SELF_SIGNED_CERT
    assert.match(err.message, 'self-signed certificate');
  } finally {
    await close(server);
  }
});

Cert('a server certificate for another host name is rejected', async () => {
  const { server, port } = await rxtlsServer(pki().otherHost);
  try {
    const err = await clientError({ host: 'localhost', port, ca: pki().ca.cert });
    assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
    assert.is((err as TlsError & { verifyCode: number }).verifyCode, 62); // HOSTNAME_MISMATCH
    assert.match(err.message, 'hostname mismatch');
  } finally {
    await close(server);
  }
});

Cert('an expired server certificate is rejected', async () => {
  const { server, port } = await rxtlsServer(pki().expired);
  try {
    const err = await clientError({ host: 'localhost', port, ca: pki().ca.cert });
    assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
    assert.is((err as TlsError & { verifyCode: number }).verifyCode, 10); // CERT_HAS_EXPIRED
    assert.match(err.message, 'certificate has expired');
  } finally {
    await close(server);
  }
});

Cert('openssl s_server with an untrusted certificate is rejected too', async () => {
  const s = await startSServer(['-cert', pki().file('selfSigned', 'crt'), '-key', pki().file('selfSigned', 'key')]);
  try {
    const err = await clientError({ host: 'localhost', port: s.port });
    assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
  } finally {
    await s.stop();
  }
});

const Peer = suite('misbehaving peers');

Peer('a server that speaks plain HTTP: the client fails the handshake', async () => {
  const server = net.createServer((sock) => {
    sock.once('data', () => sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
  });
  const port = await listen(server);
  try {
    const err = await clientError({ host: 'localhost', port, ca: pki().ca.cert });
    assert.is(err.code, 'ERR_TLS_HANDSHAKE');
    assert.ok(err.reason, 'carries OpenSSL reason');
  } finally {
    await close(server);
  }
});

Peer('a client that speaks plain HTTP: the server reports it and drops the connection', async () => {
  const { server, port, errors } = await rxtlsServer(pki().server);
  try {
    const reply = await withTimeout(
      new Promise<Buffer>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
        const chunks: Buffer[] = [];
        sock.on('data', (d) => chunks.push(d));
        sock.on('close', () => resolve(Buffer.concat(chunks)));
        sock.on('error', () => {});
      }),
      10_000,
      'plain client closed',
    );
    assert.is(errors.length, 1);
    assert.is(errors[0]!.code, 'ERR_TLS_HANDSHAKE');
    assert.is(errors[0]!.reason, 'http request');
    // What came back, if anything, is a TLS alert record (content type 21), never data.
    if (reply.length > 0) assert.is(reply[0], 21);
  } finally {
    await close(server);
  }
});

Peer('a server that closes mid-handshake: the client fails, no hang', async () => {
  const server = net.createServer((sock) => sock.once('data', () => sock.destroy()));
  const port = await listen(server);
  try {
    const err = await clientError({ host: 'localhost', port, ca: pki().ca.cert });
    assert.is(err.code, 'ERR_TLS_HANDSHAKE');
    assert.match(err.message, /closed|during the TLS handshake/);
  } finally {
    await close(server);
  }
});

Peer('a client that closes after half a ClientHello: the server reports it', async () => {
  const { server, port, errors } = await rxtlsServer(pki().server);
  try {
    // The first bytes of a TLS record header claiming 512 bytes, then nothing more.
    await withTimeout(
      new Promise<void>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => sock.end(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])));
        sock.on('close', () => resolve());
        sock.on('error', () => {});
      }),
      10_000,
      'half hello',
    );
    await withTimeout((async () => { while (errors.length === 0) await new Promise((r) => setTimeout(r, 10)); })(), 5_000, 'server error');
    assert.is(errors[0]!.code, 'ERR_TLS_HANDSHAKE');
  } finally {
    await close(server);
  }
});

Peer('a handshake that never completes times out', async () => {
  const server = net.createServer(() => {}); // accepts, never answers
  const port = await listen(server);
  const sockets: net.Socket[] = [];
  server.on('connection', (s) => sockets.push(s));
  try {
    const err = await clientError({ host: 'localhost', port, handshakeTimeout: 300 });
    assert.is(err.code, 'ERR_TLS_TIMEOUT');
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
  }
});

const Version = suite('protocol versions');

Version('a TLS 1.1 client (openssl s_client -tls1_1) is refused by an rxtls server', async () => {
  const { server, port, errors } = await rxtlsServer(pki().server);
  try {
    const r = await runSClient(port, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], '');
    // s_client prints the version it asked for even on failure; the cipher tells.
    assert.match(r.stdout, 'Cipher is (NONE)');
    assert.match(r.stderr, 'alert protocol version');
    await withTimeout((async () => { while (errors.length === 0) await new Promise((res) => setTimeout(res, 10)); })(), 5_000, 'server error');
    assert.is(errors[0]!.code, 'ERR_TLS_HANDSHAKE');
    assert.match(errors[0]!.reason ?? '', /unsupported protocol|version/);
  } finally {
    await close(server);
  }
});

Version('an rxtls client refuses a server that offers only TLS 1.1', async () => {
  const s = await startSServer(['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0', '-cert', pki().file('server', 'crt'), '-key', pki().file('server', 'key')]);
  try {
    const err = await clientError({ host: 'localhost', port: s.port, ca: pki().ca.cert });
    assert.is(err.code, 'ERR_TLS_HANDSHAKE');
    assert.match(err.reason ?? '', /unsupported protocol|version|alert/);
  } finally {
    await s.stop();
  }
});

Cert.run();
Peer.run();
Version.run();
