// TLS features on the native transport: SNI (table and callback), ALPN,
// resumption with tickets, client certificates, keylog. They come with the
// SSL_CTX; these tests check that the native connection reaches them
// (through the SslOwner seam where OpenSSL calls back).
import * as tls from 'node:tls';

import { issueCertificate, TLS1_2_VERSION, TLSClientContext, TLSServerContext, type SSLContext } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect as connectJs } from '../helpers/engine.js';
import { connectNativeTls, outcome, secure, startNative, type NativeServer } from '../helpers/native-transport.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const certA = issueCertificate(p.ca, { commonName: 'a.test', altNames: ['a.test'] });
const certB = issueCertificate(p.ca, { commonName: 'b.test', altNames: ['b.test'] });

function serverCtx(pair: { cert: string; key: string }): SSLContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(pair.cert, pair.key);
  return ctx;
}

/** Each connection says what it negotiated, then closes cleanly. */
const reporter = (c: import('@rxtls/core').NativeTlsConnection) => {
  const i = c.info();
  c.write(`${i.servername ?? '-'} ${i.alpnProtocol ?? '-'} ${i.resumed ? 'resumed' : 'full'} ${c.peerCertificate()?.subject.CN ?? 'anonymous'}\n`);
  c.end();
};

async function until(check: () => boolean, label: string): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve) => {
      const poll = () => (check() ? resolve() : setTimeout(poll, 5));
      poll();
    }),
    10_000,
    label,
  );
}

const features = suite<{ srv?: NativeServer }>('native transport features');
features.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
});

features('SNI table: the certificate follows the server name (node:tls client verifies each)', async (ctx) => {
  ctx.srv = await startNative({ ...p.server, sni: { 'a.test': serverCtx(certA), 'b.test': serverCtx(certB) } }, reporter);
  for (const name of ['a.test', 'b.test', 'localhost']) {
    const sock = tls.connect({ port: ctx.srv.port, host: '127.0.0.1', servername: name, ca: p.ca.cert });
    let text = '';
    sock.on('data', (d) => (text += d));
    await withTimeout(new Promise<void>((r, j) => (sock.on('end', () => r()), sock.on('error', j))), 10_000, name);
    assert.is(sock.getPeerCertificate().subject.CN, name);
    assert.is(text.split(' ')[0], name);
    sock.destroy();
  }
});

features('SNI callback: chosen per name; a throwing callback fails that handshake, reported with its cause', async (ctx) => {
  const seen: string[] = [];
  ctx.srv = await startNative(
    {
      ...p.server,
      sniCallback: (name) => {
        seen.push(name);
        if (name === 'boom.test') throw new Error('sni exploded');
        return name === 'a.test' ? serverCtx(certA) : undefined;
      },
    },
    reporter,
  );
  const a = await secure(connectNativeTls({ host: '127.0.0.1', servername: 'a.test', verifyHost: 'a.test', port: ctx.srv.port, ca: p.ca.cert }));
  assert.is(a.peerCertificate()?.subject.CN, 'a.test');
  a.destroy();
  const bad = connectNativeTls({ host: '127.0.0.1', servername: 'boom.test', port: ctx.srv.port, ca: p.ca.cert, verifyPeer: false });
  const r = await outcome(bad);
  assert.ok(r.error, 'the client sees the handshake fail');
  await until(() => ctx.srv!.clientErrors.length > 0, 'tlsClientError');
  const e = ctx.srv.clientErrors[0]! as Error & { code: string; cause?: Error };
  assert.is(e.code, 'ERR_TLS_HANDSHAKE');
  assert.match(e.message, 'servername callback threw');
  assert.is(e.cause?.message, 'sni exploded');
  assert.equal(seen, ['a.test', 'boom.test']);
});

features('ALPN: server preference wins; a native client offers its own list', async (ctx) => {
  ctx.srv = await startNative({ ...p.server, alpnProtocols: ['h2', 'http/1.1'] }, reporter);
  const c = connectNativeTls({ host: 'localhost', port: ctx.srv.port, ca: p.ca.cert, alpnProtocols: ['http/1.1', 'h2'] });
  await secure(c);
  assert.is(c.alpnProtocol, 'h2');
  const r = await outcome(c);
  assert.match(r.data.toString(), 'localhost h2 full');
  const sock = tls.connect({ port: ctx.srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert, ALPNProtocols: ['http/1.1'] });
  await withTimeout(new Promise<void>((r) => sock.once('secureConnect', () => r())), 10_000, 'node alpn');
  assert.is(sock.alpnProtocol, 'http/1.1');
  sock.destroy();
});

for (const [name, max] of [
  ['TLS 1.3', 0],
  ['TLS 1.2', TLS1_2_VERSION],
] as const) {
  features(`resumption (${name} ticket): native client gets onsession, resumes against a native server`, async (ctx) => {
    ctx.srv = await startNative({ ...p.server }, reporter);
    const clientCtx = new TLSClientContext();
    clientCtx.set_verify_locations(p.ca.cert);
    if (max) clientCtx.set_protocol_versions(0, max);
    const first = connectNativeTls({ host: 'localhost', port: ctx.srv.port, context: clientCtx });
    let session: Buffer | undefined;
    first.onsession = (s) => (session = s);
    const r1 = await outcome(first);
    assert.match(r1.data.toString(), 'full');
    assert.ok(session, 'onsession fired');
    const second = connectNativeTls({ host: 'localhost', port: ctx.srv.port, context: clientCtx, session: session! });
    await secure(second);
    assert.ok(second.info().resumed, 'the client resumed');
    const r2 = await outcome(second);
    assert.match(r2.data.toString(), 'resumed anonymous');
  });
}

features('resumption: the JS transport client resumes against a native server, openssl s_client too', async (ctx) => {
  ctx.srv = await startNative({ ...p.server }, reporter);
  const clientCtx = new TLSClientContext();
  clientCtx.set_verify_locations(p.ca.cert);
  const e1 = await connectJs({ host: 'localhost', port: ctx.srv.port, context: clientCtx });
  const s = await withTimeout(new Promise<Buffer>((r) => (e1.onsession = r)), 10_000, 'ticket');
  await outcome(e1);
  const e2 = await connectJs({ host: 'localhost', port: ctx.srv.port, context: clientCtx, session: s });
  assert.ok(e2.info().resumed);
  assert.match((await outcome(e2)).data.toString(), 'resumed');
});

features('client certificates: required and verified; a client without one is refused (tlsClientError)', async (ctx) => {
  ctx.srv = await startNative({ ...p.server, ca: p.ca.cert, requestCert: true }, reporter);
  const withCert = connectNativeTls({ host: 'localhost', port: ctx.srv.port, ca: p.ca.cert, cert: p.client.cert, key: p.client.key });
  const r = await outcome(withCert);
  assert.match(r.data.toString(), 'rxtls test client');
  const s = await withTimeout(
    runSClient(ctx.srv.port, ['-CAfile', p.file('ca', 'crt'), '-servername', 'localhost', '-cert', p.file('client', 'crt'), '-key', p.file('client', 'key'), '-ign_eof'], ''),
    20_000,
    's_client',
  );
  assert.match(s.stdout, 'rxtls test client');
  const anonymous = tls.connect({ port: ctx.srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert });
  anonymous.on('error', () => {});
  await withTimeout(new Promise((r) => anonymous.on('close', r)), 10_000, 'refused');
  await until(() => ctx.srv!.clientErrors.length > 0, 'tlsClientError');
  assert.is((ctx.srv.clientErrors[0] as Error & { code: string }).code, 'ERR_TLS_HANDSHAKE');
  assert.is(ctx.srv.connections.length, 2, 'the refused client never reached the handler');
});

features('native client with a certificate against a node:tls server that requires one', async () => {
  const server = tls.createServer({ ...p.server, ca: p.ca.cert, requestCert: true, rejectUnauthorized: true }, (sock) => {
    sock.end(`hi ${sock.getPeerCertificate().subject.CN}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as import('node:net').AddressInfo).port;
    const r = await outcome(connectNativeTls({ host: 'localhost', port, ca: p.ca.cert, cert: p.client.cert, key: p.client.key }));
    // (node:tls with requestCert ends without close_notify: the JS transport reports the same truncation.)
    assert.is(r.data.toString(), 'hi rxtls test client');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

features('keylog: one CLIENT_RANDOM-style line set per handshake, from the server context', async (ctx) => {
  const lines: string[] = [];
  ctx.srv = await startNative({ ...p.server, keylog: (l) => lines.push(l) }, reporter);
  await outcome(connectNativeTls({ host: 'localhost', port: ctx.srv.port, ca: p.ca.cert }));
  assert.ok(lines.some((l) => l.startsWith('CLIENT_HANDSHAKE_TRAFFIC_SECRET ')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('SERVER_TRAFFIC_SECRET_0 ')));
});

features.run();
