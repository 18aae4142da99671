// Certificate details and what a connection negotiated: the peer's chain as
// objects, the verify result, protocol, cipher, group, signature scheme, and
// exported keying material. Checked against node:tls and openssl s_server.
import * as tls from 'node:tls';

import { createCertificateAuthority, issueCertificate, TLSClientContext } from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/features.js';
import { withTimeout } from '../helpers/net.js';
import { startSServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { eachTransport } from '../helpers/transports.js';

const p = pki();

const details = suite<{ srv?: RunningServer; stops: Array<() => Promise<void>> }>('certificate details', { stops: [] });
details.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
  for (const stop of ctx.stops) await stop();
  ctx.stops = [];
});

eachTransport(details, 'the peer chain as objects, matching what node:tls reports', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server });
  const engine = await connect({ transport, host: 'localhost', port: ctx.srv.port, ca: p.ca.cert });
  const sent = engine.peerCertificateChain();
  const verified = engine.peerCertificateChain(true);
  engine.destroy();
  assert.is(sent.length, 1, 'the server sends its leaf only');
  assert.is(verified.length, 2, 'leaf and the trusted CA');
  const [leaf, root] = verified as [typeof verified[0], typeof verified[0]];
  assert.is(leaf.subject.CN, 'localhost');
  assert.is(leaf.issuer.CN, 'rxtls test CA');
  assert.is(root.subject.CN, 'rxtls test CA');
  assert.equal(leaf.subjectAltNames, ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
  assert.match(leaf.validFrom, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(sent[0]!.raw.equals(leaf.raw));

  const node = tls.connect({ host: '127.0.0.1', port: ctx.srv.port, servername: 'localhost', ca: p.ca.cert });
  await withTimeout(new Promise((resolve, reject) => node.once('secureConnect', resolve).once('error', reject)), 10_000, 'node:tls');
  const theirs = node.getPeerCertificate(true);
  node.destroy();
  assert.is(leaf.fingerprint256, theirs.fingerprint256);
  assert.is(leaf.serialNumber, theirs.serialNumber.toUpperCase());
  assert.ok(leaf.raw.equals(theirs.raw));
  assert.is(new Date(leaf.validTo).getTime(), new Date(theirs.valid_to).getTime());
  assert.is(new Date(leaf.validFrom).getTime(), new Date(theirs.valid_from).getTime());
  assert.is(root.fingerprint256, theirs.issuerCertificate.fingerprint256);
});

eachTransport(details, 'a chain with an intermediate arrives in order, as sent and as verified', async (transport, ctx) => {
  const root = createCertificateAuthority({ commonName: 'details root' });
  const intermediate = nativeBinding.generateCertificate({
    commonName: 'details intermediate',
    isCA: true,
    altNames: [],
    issuerCert: root.cert,
    issuerKey: root.key,
  });
  const leaf = issueCertificate(intermediate, { commonName: 'localhost' });
  ctx.srv = await startServer({ transport, cert: leaf.cert + intermediate.cert, key: leaf.key });
  const engine = await connect({ transport, host: 'localhost', port: ctx.srv.port, ca: root.cert });
  const sent = engine.peerCertificateChain().map((c) => c.subject.CN);
  const verified = engine.peerCertificateChain(true).map((c) => c.subject.CN);
  engine.destroy();
  assert.equal(sent, ['localhost', 'details intermediate']);
  assert.equal(verified, ['localhost', 'details intermediate', 'details root']);
});

eachTransport(details, 'verify result, protocol, cipher, group and signature scheme (node:tls server)', async (transport) => {
  const server = tls.createServer({ ...p.server, ecdhCurve: 'P-384', maxVersion: 'TLSv1.3' }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const port = (server.address() as { port: number }).port;
    const engine = await connect({ transport, host: 'localhost', port, ca: p.ca.cert });
    const info = engine.info();
    engine.destroy();
    assert.is(info.verifyResult, 0);
    assert.is(info.verifyMessage, 'ok');
    assert.is(info.protocol, 'TLSv1.3');
    assert.match(info.cipher!, /^TLS_(AES|CHACHA20)/);
    assert.is(info.group, 'secp384r1');
    assert.is(info.signatureScheme, 'ecdsa_secp256r1_sha256');

    // An untrusted server with verification off still reports why it would fail.
    const ctx = new TLSClientContext();
    const loose = await connect({ transport, host: 'localhost', port, context: ctx, rejectUnauthorized: false });
    const looseInfo = loose.info();
    loose.destroy();
    assert.is(looseInfo.verifyResult, 20); // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

eachTransport(details, 'RSA signature schemes: rsa_pss_rsae (TLS 1.3) and rsa_pkcs1 (TLS 1.2, openssl s_server)', async (transport, ctx) => {
  const rsa = issueCertificate(p.ca, { commonName: 'localhost', keyType: 'rsa' });
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-rsa-'));
  ctx.stops.push(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'rsa.crt'), rsa.cert);
  writeFileSync(join(dir, 'rsa.key'), rsa.key);
  const s13 = await startSServer(['-cert', join(dir, 'rsa.crt'), '-key', join(dir, 'rsa.key'), '-tls1_3']);
  ctx.stops.push(() => s13.stop());
  const e13 = await connect({ transport, host: 'localhost', port: s13.port, ca: p.ca.cert });
  assert.is(e13.info().signatureScheme, 'rsa_pss_rsae_sha256');
  e13.destroy();
  const s12 = await startSServer(['-cert', join(dir, 'rsa.crt'), '-key', join(dir, 'rsa.key'), '-tls1_2', '-sigalgs', 'RSA+SHA384']);
  ctx.stops.push(() => s12.stop());
  const e12 = await connect({ transport, host: 'localhost', port: s12.port, ca: p.ca.cert });
  assert.is(e12.info().protocol, 'TLSv1.2');
  assert.is(e12.info().signatureScheme, 'rsa_pkcs1_sha384');
  e12.destroy();
});

eachTransport(details, 'exportKeyingMaterial matches node:tls on the other side', async (transport, ctx) => {
  let serverSide: Buffer | undefined;
  ctx.srv = await startServer({ transport, ...p.server }, (engine) => {
    engine.onsecure = () => {
      serverSide = engine.exportKeyingMaterial(48, 'EXPERIMENTAL-rxtls', Buffer.from('ctx'));
      engine.write('ok');
    };
  });
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const node = tls.connect({ host: '127.0.0.1', port: ctx.srv.port, servername: 'localhost', ca: p.ca.cert, maxVersion });
    await withTimeout(new Promise((resolve, reject) => node.once('data', resolve).once('error', reject)), 10_000, 'node:tls');
    const theirs = node.exportKeyingMaterial(48, 'EXPERIMENTAL-rxtls', Buffer.from('ctx'));
    node.destroy();
    assert.ok(serverSide && serverSide.equals(theirs), `${maxVersion}: same keying material`);
  }
  const engine = await connect({ transport, host: 'localhost', port: ctx.srv.port, ca: p.ca.cert });
  const invalid = (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT';
  assert.throws(() => engine.exportKeyingMaterial(0, 'x'), invalid);
  assert.throws(() => engine.exportKeyingMaterial(16, 5 as never), invalid);
  assert.is(engine.exportKeyingMaterial(16, 'x').length, 16);
  engine.destroy();
});

details.run();
