// node:tls habits on connectTls / createTlsServer / TlsDuplex: servername
// names the host to verify, a checkServerIdentity hook, minVersion /
// maxVersion / ciphers / ecdhCurve / sigalgs / pfx + passphrase, and
// errors nobody listens to that never take the process down. Peers: node:tls.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';

import {
  CertificateError,
  ConfigError,
  connectTls,
  connectTlsDuplex,
  createTlsServer,
  ErrorCode,
  HandshakeError,
  secureDuplexes,
  TlsDuplex,
  type CertificateSummary,
  type ClientOptions,
  type SecureConnection,
  type TlsEngine,
  type TlsError,
} from '@rxtls/core';
import { binding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const test = suite('node:tls habits');

/** A node:tls server that records the data it receives; answers 'ok' and ends. */
async function nodeServer(options: tls.TlsOptions): Promise<{ port: number; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(options, (s) => {
    s.on('data', (d) => {
      received.push(String(d));
      s.end('ok');
    });
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  // Closing drops what is still open, so a failed assertion cannot leave the test hanging.
  server.on('connection', (s: net.Socket) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise<void>((r) => {
    server.close(() => r());
    for (const s of sockets) s.destroy();
  });
  return { port: (server.address() as AddressInfo).port, received, close };
}

/** Connects with rxtls; resolves with the engine once secure, or with the error. */
function rx(options: ClientOptions, write?: string): Promise<{ engine: SecureConnection; error?: TlsError }> {
  return withTimeout(
    new Promise((resolve) => {
      const engine = connectTls(options);
      if (write) engine.write(write);
      engine.onsecure = () => resolve({ engine });
      engine.onerror = (error) => resolve({ engine, error });
    }),
    10_000,
    'rxtls connect',
  );
}

test('servername also names the host to verify; verifyHost overrides it', async () => {
  const srv = await nodeServer({ key: p.otherHost.key, cert: p.otherHost.cert });
  try {
    const ok = await rx({ host: '127.0.0.1', port: srv.port, servername: 'other.example', ca: p.ca.cert });
    assert.is(ok.error, undefined);
    assert.is(ok.engine.info().verifyResult, 0);
    ok.engine.destroy();
    const pinned = await rx({ host: '127.0.0.1', port: srv.port, servername: 'other.example', verifyHost: '127.0.0.1', ca: p.ca.cert });
    assert.instance(pinned.error, CertificateError);
    assert.match(pinned.error!.message, /IP address mismatch/);
  } finally {
    await srv.close();
  }
});

for (const transport of ['native', 'js'] as const) {
  test(`checkServerIdentity [${transport}]: called with the host and certificate; its Error fails the connection before data is sent`, async () => {
    const srv = await nodeServer({ key: p.server.key, cert: p.server.cert });
    try {
      const calls: Array<[string, string | undefined]> = [];
      const accepted = await rx({
        transport,
        host: '127.0.0.1',
        port: srv.port,
        servername: 'localhost',
        ca: p.ca.cert,
        checkServerIdentity: (host: string, cert: CertificateSummary | null) => void calls.push([host, cert?.subject.CN]),
      });
      assert.is(accepted.error, undefined);
      assert.equal(calls, [['localhost', 'localhost']]);
      accepted.engine.destroy();

      const refusal = new Error('pinned key differs');
      const refused = await rx({ transport, host: 'localhost', port: srv.port, ca: p.ca.cert, checkServerIdentity: () => refusal }, 'secret');
      assert.instance(refused.error, CertificateError);
      assert.is(refused.error!.code, ErrorCode.CertVerify);
      assert.is(refused.error!.cause, refusal);
      assert.is(refused.engine.secure, false);

      const thrown = new Error('thrown');
      const threw = await rx({ transport, host: 'localhost', port: srv.port, ca: p.ca.cert, checkServerIdentity: () => { throw thrown; } }, 'secret');
      assert.is(threw.error!.cause, thrown);
      await new Promise((r) => setTimeout(r, 50)); // let anything sent reach the server
      assert.equal(srv.received, [], 'what was written before the handshake never left');
    } finally {
      await srv.close();
    }
  });
}

test('minVersion / maxVersion on the client and the server', async () => {
  const tls12 = await nodeServer({ key: p.server.key, cert: p.server.cert, maxVersion: 'TLSv1.2' });
  try {
    const refused = await rx({ host: 'localhost', port: tls12.port, ca: p.ca.cert, minVersion: 'TLSv1.3' });
    assert.instance(refused.error, HandshakeError);
  } finally {
    await tls12.close();
  }
  const any = await nodeServer({ key: p.server.key, cert: p.server.cert });
  try {
    const capped = await rx({ host: 'localhost', port: any.port, ca: p.ca.cert, maxVersion: 'TLSv1.2' });
    assert.is(capped.engine.info().protocol, 'TLSv1.2');
    capped.engine.destroy();
  } finally {
    await any.close();
  }
  assert.throws(() => connectTls({ host: 'localhost', port: 1, minVersion: 'TLSv1.1' as never }), /minVersion/);
  const server = createTlsServer({ ...p.server, minVersion: 'TLSv1.3' }, (e) => void (e.onerror = () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const err = await withTimeout(
      new Promise<Error>((resolve) => tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert, maxVersion: 'TLSv1.2' }).on('error', resolve)),
      10_000,
      'node client',
    );
    assert.match(err.message, /protocol version|alert/i);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('ciphers, ecdhCurve and sigalgs reach the handshake (client and server)', async () => {
  const srv = await nodeServer({ key: p.server.key, cert: p.server.cert });
  try {
    const c = await rx({ host: 'localhost', port: srv.port, ca: p.ca.cert, ciphers: 'TLS_CHACHA20_POLY1305_SHA256', ecdhCurve: 'P-384', sigalgs: 'ecdsa_secp256r1_sha256' });
    const info = c.engine.info();
    assert.is(info.cipher, 'TLS_CHACHA20_POLY1305_SHA256');
    assert.is(info.group, 'secp384r1');
    assert.is(info.signatureScheme, 'ecdsa_secp256r1_sha256');
    c.engine.destroy();
    const mismatch = await rx({ host: 'localhost', port: srv.port, ca: p.ca.cert, sigalgs: 'rsa_pss_rsae_sha256' });
    assert.instance(mismatch.error, HandshakeError, 'an EC server cannot sign with RSA-PSS only');
  } finally {
    await srv.close();
  }
  assert.throws(() => connectTls({ host: 'localhost', port: 1, ecdhCurve: 'no-such-curve' }), (e: unknown) => e instanceof ConfigError);
  const server = createTlsServer({ ...p.server, ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305', ecdhCurve: 'P-521' }, (e) => {
    e.ondata = () => e.end();
    e.onerror = () => {};
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const seen = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert, maxVersion: 'TLSv1.2' }, () => {
          resolve(`${s.getCipher().name} ${(s.getEphemeralKeyInfo() as tls.EphemeralKeyInfo | null)?.name}`);
          s.destroy();
        });
        s.on('error', reject);
      }),
      10_000,
      'node client',
    );
    assert.is(seen, 'ECDHE-ECDSA-CHACHA20-POLY1305 secp521r1');
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('pfx + passphrase on the server and on the client (PKCS#12 made by the openssl CLI)', async () => {
  const pfx = (name: 'server' | 'client', pass: string): Buffer => {
    const out = join(p.dir, `${name}.pfx`);
    execFileSync('openssl', ['pkcs12', '-export', '-in', p.file(name, 'crt'), '-inkey', p.file(name, 'key'), '-certfile', p.file('ca', 'crt'), '-passout', `pass:${pass}`, '-out', out]);
    return readFileSync(out);
  };
  const serverPfx = pfx('server', 'server-secret');
  const server = createTlsServer({ pfx: serverPfx, passphrase: 'server-secret' }, (e) => {
    e.ondata = (d) => (e.write(`got ${d}`), e.end());
    e.onerror = () => {};
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const reply = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert }, () => s.write('hi'));
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('end', () => resolve(`${got} authorized=${s.authorized}`));
        s.on('error', reject);
      }),
      10_000,
      'node client',
    );
    assert.is(reply, 'got hi authorized=true');
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.throws(() => createTlsServer({ pfx: serverPfx, passphrase: 'wrong' }, () => {}), (e: unknown) => e instanceof ConfigError && /PKCS#12/.test((e as Error).message));
  assert.throws(() => createTlsServer({ pfx: Buffer.from('not a pfx') }, () => {}), (e: unknown) => e instanceof ConfigError);

  // A client certificate from a PFX, checked by a node:tls server that asks for one.
  const seen: string[] = [];
  const nodeSrv = tls.createServer({ key: p.server.key, cert: p.server.cert, ca: p.ca.cert, requestCert: true, rejectUnauthorized: true }, (s) => {
    seen.push(`${(s.getPeerCertificate() as tls.PeerCertificate).subject.CN} ${s.authorized}`);
    s.end();
  });
  await new Promise<void>((r) => nodeSrv.listen(0, '127.0.0.1', r));
  try {
    const port = (nodeSrv.address() as AddressInfo).port;
    const c = await rx({ host: 'localhost', port, ca: p.ca.cert, pfx: pfx('client', 'client-secret'), passphrase: 'client-secret' });
    assert.is(c.error, undefined);
    await withTimeout(new Promise<void>((r) => (c.engine.onclose = () => r())), 10_000, 'close');
    assert.equal(seen, ['rxtls test client true']);
  } finally {
    await new Promise((r) => nodeSrv.close(r));
  }
});

test('a TlsDuplex nobody listens to for errors never throws; early errors go to onClientError', async () => {
  const clientErrors: string[] = [];
  let handOver: (d: TlsDuplex) => void = () => {};
  const handedOver = new Promise<TlsDuplex>((r) => (handOver = r));
  // The JS transport: it hands connections over before their handshake, so early errors reach onClientError
  // (a native server reports them as 'tlsClientError': test/core/duplex-stream.test.ts has both).
  const server = createTlsServer(
    { ...p.server, transport: 'js' },
    secureDuplexes(
      (d) => handOver(d), // no 'error' listener, on purpose
      (err, d) => clientErrors.push(`${(err as TlsError).code} ${d instanceof TlsDuplex}`),
    ),
  );
  const silent = createTlsServer({ ...p.server, transport: 'js' }, secureDuplexes(() => {})); // no handler at all
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    const port = (server.address() as AddressInfo).port;
    // Not TLS at all: a handshake error before the hand-over.
    for (const target of [port, (silent.address() as AddressInfo).port]) {
      const raw = net.connect(target, '127.0.0.1', () => raw.write('GET / HTTP/1.0\r\n\r\n'));
      raw.on('error', () => {});
      await withTimeout(new Promise((r) => raw.on('close', r)), 10_000, 'raw close');
    }
    assert.equal(clientErrors, [`${ErrorCode.Handshake} true`]);

    // After the hand-over: the client drops TCP without close_notify (truncation).
    const client = connectTlsDuplex({ host: 'localhost', port, ca: p.ca.cert, transport: 'js' });
    await withTimeout(new Promise((r) => client.once('secureConnect', r)), 10_000, 'handshake');
    const serverSide = await withTimeout(handedOver, 10_000, 'hand-over');
    const closed = new Promise((r) => serverSide.once('close', r));
    client.engine.socket.end(); // FIN without close_notify
    await withTimeout(closed, 10_000, 'server side close');
    assert.is(serverSide.engine.error?.code, ErrorCode.Truncated);
    assert.is(clientErrors.length, 1, 'after the hand-over errors stay on the stream');

    // A client whose connection is refused, with no 'error' listener either.
    const refused = connectTlsDuplex({ host: '127.0.0.1', port: (await closedPort()), ca: p.ca.cert });
    await withTimeout(new Promise((r) => refused.once('close', r)), 10_000, 'refused close');
    assert.is(refused.engine.error?.code, ErrorCode.Socket);
    await new Promise((r) => setImmediate(r));
    assert.equal(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    await new Promise((r) => server.close(r));
    await new Promise((r) => silent.close(r));
  }
});

test('native usePkcs12 / setGroups / setSigalgs validate their arguments and the context', () => {
  const code = (f: () => void): string | undefined => {
    try {
      f();
    } catch (e) {
      return (e as TlsError).code;
    }
    return undefined;
  };
  const ctx = new binding.Context(binding.methods.TLS_server_method);
  assert.is(code(() => binding.usePkcs12({} as never, Buffer.alloc(4))), ErrorCode.InvalidArgument);
  assert.is(code(() => binding.usePkcs12(ctx, 'text' as never)), ErrorCode.InvalidArgument);
  assert.is(code(() => binding.usePkcs12(ctx, Buffer.alloc(0))), ErrorCode.InvalidArgument);
  assert.is(code(() => binding.usePkcs12(ctx, Buffer.alloc(4), 7 as never)), ErrorCode.InvalidArgument);
  assert.is(code(() => binding.usePkcs12(ctx, Buffer.from([0x30, 0x82, 0xff, 0xff, 0]))), ErrorCode.Config);
  assert.is(code(() => binding.setGroups(ctx, '')), ErrorCode.InvalidArgument);
  assert.is(code(() => binding.setGroups(ctx, 'P-256\0X25519')), ErrorCode.InvalidArgument);
  assert.is(code(() => binding.setSigalgs(ctx, 'nonsense+alg')), ErrorCode.Config);
  assert.is(code(() => binding.setGroups(ctx, 'P-256:X25519')), undefined);
  assert.is(code(() => binding.setSigalgs(ctx, 'ecdsa_secp256r1_sha256')), undefined);
  ctx.free();
  assert.is(code(() => binding.setGroups(ctx, 'P-256')), ErrorCode.Closed);
  assert.is(code(() => binding.usePkcs12(ctx, Buffer.alloc(4))), ErrorCode.Closed);
});

/** A port nothing listens on (was free a moment ago). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test.run();
