// SNI: a server picks its certificate and context per server name, from a
// table and from a callback; checked with `openssl s_client -servername`.
import { issueCertificate, SSL_VERIFY_FAIL_IF_NO_PEER_CERT, SSL_VERIFY_PEER, TLSServerContext, type SSLContext } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/features.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { eachTransport } from '../helpers/transports.js';

const p = pki();
const certA = issueCertificate(p.ca, { commonName: 'a.test', altNames: ['a.test'] });
const certB = issueCertificate(p.ca, { commonName: 'b.test', altNames: ['b.test', '*.b.test'] });
const certC = issueCertificate(p.ca, { commonName: 'c.test', altNames: ['c.test'] });

function contextFor(pair: { cert: string; key: string }): SSLContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(pair.cert, pair.key);
  return ctx;
}

/** The subject CN of the certificate s_client received. */
function subjectCn(stdout: string): string | undefined {
  return /subject=.*?CN\s*=\s*([^\s,/]+)/.exec(stdout)?.[1];
}

const sClient = (port: number, servername: string | null) =>
  withTimeout(
    runSClient(port, [...(servername ? ['-servername', servername] : ['-noservername']), '-CAfile', p.file('ca', 'crt')], 'Q\n'),
    20_000,
    's_client',
  );

const sni = suite<{ srv?: RunningServer }>('sni');

sni.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
});

eachTransport(sni, 'two names, two certificates, checked by openssl s_client -servername', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, sni: { 'a.test': contextFor(certA), '*.b.test': contextFor(certB), 'b.test': contextFor(certB) } });
  const a = await sClient(ctx.srv.port, 'a.test');
  assert.is(subjectCn(a.stdout), 'a.test', a.stdout + a.stderr);
  assert.match(a.stdout, /Verification: OK/);
  const b = await sClient(ctx.srv.port, 'B.Test');
  assert.is(subjectCn(b.stdout), 'b.test');
  const wild = await sClient(ctx.srv.port, 'x.b.test');
  assert.is(subjectCn(wild.stdout), 'b.test');
  // Not listed, and no name at all: the default certificate.
  const other = await sClient(ctx.srv.port, 'x.y.b.test');
  assert.is(subjectCn(other.stdout), 'localhost');
  const none = await sClient(ctx.srv.port, null);
  assert.is(subjectCn(none.stdout), 'localhost');
});

eachTransport(sni, 'a callback picks the context; undefined keeps the default', async (transport, ctx) => {
  const seen: string[] = [];
  const c = contextFor(certC);
  ctx.srv = await startServer({ transport, 
    ...p.server,
    sni: { 'a.test': contextFor(certA) },
    sniCallback: (name) => {
      seen.push(name);
      return name === 'c.test' ? c : undefined;
    },
  });
  assert.is(subjectCn((await sClient(ctx.srv.port, 'c.test')).stdout), 'c.test');
  assert.is(subjectCn((await sClient(ctx.srv.port, 'a.test')).stdout), 'a.test');
  assert.is(subjectCn((await sClient(ctx.srv.port, 'zzz.test')).stdout), 'localhost');
  // The table answers first: the callback only saw the names it lacks.
  assert.equal(seen, ['c.test', 'zzz.test']);
});

eachTransport(sni, 'a callback that throws fails that handshake, with its error as cause', async (transport, ctx) => {
  const boom = new Error('no such tenant');
  ctx.srv = await startServer({ transport, ...p.server, sniCallback: () => { throw boom; } });
  const r = await sClient(ctx.srv.port, 'evil.test');
  assert.match(r.stdout + r.stderr, /internal error|alert/i);
  await withTimeout(new Promise<void>((resolve) => {
    const check = () => (ctx.srv!.errors.length > 0 ? resolve() : setTimeout(check, 10));
    check();
  }), 5000, 'server error');
  const err = ctx.srv.errors[0] as Error & { code: string; cause?: unknown };
  assert.is(err.code, 'ERR_TLS_HANDSHAKE');
  assert.is(err.cause, boom);
  // The server keeps serving other names.
  assert.is(subjectCn((await sClient(ctx.srv.port, null)).stdout), 'localhost');
});

eachTransport(sni, 'a callback returning something else fails the handshake', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, sniCallback: () => ({}) as SSLContext });
  await sClient(ctx.srv.port, 'x.test');
  await withTimeout(new Promise<void>((resolve) => {
    const check = () => (ctx.srv!.errors.length > 0 ? resolve() : setTimeout(check, 10));
    check();
  }), 5000, 'server error');
  assert.is((ctx.srv.errors[0] as Error & { code: string }).code, 'ERR_TLS_HANDSHAKE');
});

eachTransport(sni, 'an rxtls client sends the host as SNI, never an IP address', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, sni: { 'a.test': contextFor(certA) } });
  const byName = await connect({ transport, host: 'localhost', port: ctx.srv.port, ca: p.ca.cert, servername: 'a.test', verifyHost: 'a.test' });
  assert.is(byName.peerCertificate()?.subject.CN, 'a.test');
  assert.is(byName.info().servername, 'a.test');
  byName.destroy();
  const byIp = await connect({ transport, host: '127.0.0.1', port: ctx.srv.port, ca: p.ca.cert });
  assert.is(byIp.peerCertificate()?.subject.CN, 'localhost');
  assert.is(byIp.info().servername, null);
  byIp.destroy();
});

eachTransport(sni, 'the chosen context brings its client-certificate policy', async (transport, ctx) => {
  const strict = contextFor(certA);
  strict.set_verify_locations(p.ca.cert);
  strict.set_verify(SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  ctx.srv = await startServer({ transport, ...p.server, sni: { 'a.test': strict } }, (engine) => {
    engine.onsecure = () => {
      engine.write(`hello - ${engine.info().servername}\n`);
      engine.end();
    };
  });
  const withCert = ['-cert', p.file('client', 'crt'), '-key', p.file('client', 'key')];
  const run = (name: string, extra: string[]) =>
    withTimeout(runSClient(ctx.srv!.port, ['-servername', name, '-CAfile', p.file('ca', 'crt'), '-ign_eof', ...extra], ''), 20_000, 's_client');
  assert.match((await run('a.test', withCert)).stdout, /hello - a\.test/);
  const refused = await run('a.test', []);
  assert.not.match(refused.stdout, /hello/);
  assert.match((await run('other.test', [])).stdout, /hello - other\.test/);
});

sni('argument checks', () => {
  const ctx = contextFor(certA);
  assert.throws(() => ctx.set_servername_context('bad name!', contextFor(certB)), (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  assert.throws(() => ctx.set_servername_context('a.test', {} as SSLContext), (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  assert.throws(() => ctx.set_servername_context('a.test', ctx), (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  assert.throws(() => ctx.set_servername_callback(42 as never), (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  ctx.set_servername_context('b.test', contextFor(certB));
  ctx.set_servername_context('b.test', null);
  ctx.free();
  assert.throws(() => ctx.set_servername_callback(null), (e: Error & { code: string }) => e.code === 'ERR_TLS_CLOSED');
});

sni.run();
