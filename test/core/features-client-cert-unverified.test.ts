// requestCert: 'unverified': the server asks for a client certificate, serves
// every client (a certificate that verifies, one that does not, none) and
// reports per connection `authorized` / `authorizationError` with the peer
// certificate, for the application to decide (as node:tls's requestCert +
// rejectUnauthorized: false). Peers: openssl s_client -cert, node:tls; the
// engine, TlsDuplex and the rx connection all report it.
import * as tls from 'node:tls';

import {
  CertificateError,
  createTlsServer,
  ErrorCode,
  InvalidArgumentError,
  issueCertificate,
  parseCertificate,
  serverContext,
  SSL_VERIFY_PEER,
  TLSClientContext,
  TlsDuplex,
  type NativeTlsConnection,
  type SecureConnection,
  type ServerOptions,
  type TlsEngine,
} from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';
import { listen, type TlsConnection } from '@rxtls/rx';
import { firstValueFrom, take } from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer, type RunningServer } from '../helpers/features.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { eachTransport } from '../helpers/transports.js';

const p = pki();
const sClient = (port: number, args: string[]) =>
  withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), '-servername', 'localhost', '-ign_eof', ...args]), 20_000, 's_client');
const certArgs = (name: 'client' | 'selfSigned') => ['-cert', p.file(name, 'crt'), '-key', p.file(name, 'key')];
const X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18;

/** What the server saw of one connection, read once its handshake was done. */
interface Seen {
  authorized: boolean;
  error: CertificateError | null;
  fingerprint: string | null;
  duplexAuthorized: boolean;
}

/** On each secure connection: records what the engine reports, answers `served`, closes. */
function recorder(seen: Seen[]): (connection: SecureConnection) => void {
  return (connection) => {
    const engine = connection as TlsEngine | NativeTlsConnection;
    engine.onsecure = () => {
      seen.push({
        authorized: engine.authorized,
        error: engine.authorizationError,
        fingerprint: engine.peerCertificate()?.fingerprint256 ?? null,
        duplexAuthorized: new TlsDuplex(engine).authorized,
      });
      engine.write(`served authorized=${engine.authorized}\n`);
      engine.end();
    };
  };
}

function fingerprintOf(pem: string): string {
  return parseCertificate(pem).fingerprint256;
}

for (const transport of ['native', 'js'] as const) {
  const U = suite<{ srv?: RunningServer; seen: Seen[] }>(`requestCert: 'unverified' [${transport}]`, { seen: [] });
  U.before.each(async (ctx) => {
    ctx.seen = [];
    ctx.srv = await startServer({ transport, ...p.server, ca: p.ca.cert, requestCert: 'unverified' }, recorder(ctx.seen));
  });
  U.after.each(async (ctx) => {
    await ctx.srv?.close();
    ctx.srv = undefined;
  });

  U('a self-signed client certificate (openssl s_client -cert) is served: authorized false, the verify error, the certificate', async (ctx) => {
    for (const version of ['-tls1_3', '-tls1_2']) {
      const r = await sClient(ctx.srv!.port, [version, ...certArgs('selfSigned')]);
      assert.match(r.stdout, /served authorized=false/, `${version}: ${r.stdout}${r.stderr}`);
      // The server asked: the CertificateRequest names the CA given as `ca`.
      assert.match(r.stdout, /Acceptable client certificate CA names\s+CN\s*=\s*rxtls test CA/);
    }
    assert.is(ctx.seen.length, 2);
    for (const s of ctx.seen) {
      assert.is(s.authorized, false);
      assert.is(s.duplexAuthorized, false);
      assert.instance(s.error, CertificateError);
      assert.is(s.error!.code, ErrorCode.CertVerify);
      assert.is(s.error!.verifyCode, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
      assert.match(s.error!.verifyMessage ?? '', /self.signed/);
      assert.match(s.error!.message, /self.signed/);
      assert.is(s.fingerprint, fingerprintOf(p.selfSigned.cert), 'the peer certificate is the one s_client sent');
    }
    assert.is(ctx.srv!.errors.length, 0);
  });

  U('a client certificate the configured CA signed: authorized true, no error', async (ctx) => {
    for (const version of ['-tls1_3', '-tls1_2']) {
      const r = await sClient(ctx.srv!.port, [version, ...certArgs('client')]);
      assert.match(r.stdout, /served authorized=true/, `${version}: ${r.stdout}${r.stderr}`);
    }
    assert.is(ctx.seen.length, 2);
    for (const s of ctx.seen) {
      assert.is(s.authorized, true);
      assert.is(s.duplexAuthorized, true);
      assert.is(s.error, null);
      assert.is(s.fingerprint, fingerprintOf(p.client.cert));
    }
  });

  U('no client certificate: the connection is established, authorized false, an error without verifyCode', async (ctx) => {
    for (const version of ['-tls1_3', '-tls1_2']) {
      const r = await sClient(ctx.srv!.port, [version]);
      assert.match(r.stdout, /served authorized=false/, `${version}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /Acceptable client certificate CA names/, 'a certificate was asked for');
    }
    assert.is(ctx.seen.length, 2);
    for (const s of ctx.seen) {
      assert.is(s.authorized, false);
      assert.is(s.duplexAuthorized, false);
      assert.instance(s.error, CertificateError);
      assert.is(s.error!.verifyCode, undefined);
      assert.match(s.error!.message, /sent no certificate/);
      assert.is(s.fingerprint, null);
    }
  });

  U('node:tls clients: self-signed, CA-signed, none', async (ctx) => {
    const port = ctx.srv!.port;
    const ask = (extra: tls.ConnectionOptions) =>
      withTimeout(
        new Promise<string>((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: p.ca.cert, ...extra });
          let text = '';
          s.on('data', (d) => (text += d));
          s.on('end', () => resolve(text));
          s.on('error', reject);
        }),
        10_000,
        'node:tls client',
      );
    assert.is(await ask({ cert: p.selfSigned.cert, key: p.selfSigned.key }), 'served authorized=false\n');
    assert.is(await ask({ cert: p.client.cert, key: p.client.key }), 'served authorized=true\n');
    assert.is(await ask({}), 'served authorized=false\n');
    assert.equal(
      ctx.seen.map((s) => [s.authorized, s.error?.verifyCode ?? null, s.fingerprint]),
      [
        [false, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, fingerprintOf(p.selfSigned.cert)],
        [true, null, fingerprintOf(p.client.cert)],
        [false, null, null],
      ],
    );
  });

  /** Restarts the suite's server with `sni.test` served by `sniCtx` (default context: `mainRequestCert`). */
  async function withSniServer(ctx: { srv?: RunningServer; seen: Seen[] }, mainRequestCert: ServerOptions['requestCert'], sniRequestCert: ServerOptions['requestCert']) {
    await ctx.srv!.close();
    const named = issueCertificate(p.ca, { commonName: 'sni.test', altNames: ['sni.test'] });
    const sniCtx = serverContext({ ...named, ca: p.ca.cert, requestCert: sniRequestCert });
    ctx.srv = await startServer({ transport, ...p.server, ca: p.ca.cert, requestCert: mainRequestCert, sni: { 'sni.test': sniCtx } }, recorder(ctx.seen));
    const r = await withTimeout(
      runSClient(ctx.srv.port, ['-CAfile', p.file('ca', 'crt'), '-servername', 'sni.test', '-ign_eof', '-tls1_3', ...certArgs('selfSigned')]),
      20_000,
      's_client',
    );
    assert.match(r.stdout, /subject=CN\s*=\s*sni\.test/, 'the SNI context answered');
    return r;
  }

  U('SNI: a name whose context is in the mode serves a self-signed client of a server that asks for none', async (ctx) => {
    const r = await withSniServer(ctx, false, 'unverified');
    assert.match(r.stdout, /served authorized=false/, r.stdout + r.stderr);
    assert.is(ctx.seen[0]?.error?.verifyCode, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  });

  U("SNI: a name whose context requires verified certificates refuses a self-signed one, though the default is 'unverified'", async (ctx) => {
    const r = await withSniServer(ctx, 'unverified', true);
    assert.not.match(r.stdout, /served/, r.stdout);
    assert.is(ctx.seen.length, 0);
    await withTimeout(
      (async () => {
        while (ctx.srv!.errors.length === 0) await new Promise((res) => setTimeout(res, 10));
      })(),
      10_000,
      'server error',
    );
    assert.is((ctx.srv!.errors[0] as Error & { verifyCode?: number }).verifyCode, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  });

  U.run();
}

// rx listen() runs on the JS transport.
const Rx = suite("requestCert: 'unverified' through rx listen()");

Rx('the rx connection reports authorized, authorizationError and the certificate, also after close', async () => {
  let port = 0;
  let first!: Promise<TlsConnection>;
  await new Promise<void>((resolve) => {
    const conns = listen({ ...p.server, ca: p.ca.cert, requestCert: 'unverified', onListening: (a) => ((port = a.port), resolve()) });
    // take(1): the server stops listening once the connection is emitted; the connection stays open.
    first = firstValueFrom(conns.pipe(take(1)));
  });
  const r = sClient(port, ['-tls1_3', ...certArgs('selfSigned')]);
  const conn = await withTimeout(first, 10_000, 'rx connection');
  conn.close();
  await r;
  await withTimeout(
    (async () => {
      while (!conn.closed) await new Promise((res) => setTimeout(res, 10));
    })(),
    10_000,
    'rx connection closed',
  );
  assert.is(conn.authorized, false);
  assert.is(conn.authorizationError?.verifyCode, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  assert.is(conn.peerCertificate?.fingerprint256, fingerprintOf(p.selfSigned.cert));
});

Rx.run();

const Misuse = suite("requestCert: 'unverified' misuse");

Misuse('an unknown requestCert value, or a client context, is refused', () => {
  assert.throws(
    () => createTlsServer({ ...p.server, requestCert: 'optional' as never }, () => {}),
    (e: Error) => e instanceof InvalidArgumentError && /requestCert/.test(e.message),
  );
  const clientCtx = new TLSClientContext();
  assert.throws(
    () => createTlsServer({ context: clientCtx, requestCert: 'unverified' }, () => {}),
    (e: Error & { code?: string }) => e.code === ErrorCode.State,
  );
});

Misuse('the native entry point checks its argument and the context state', () => {
  const code = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return 'no throw';
  };
  for (const bad of [undefined, null, {}, 1, new TLSClientContext()]) assert.is(code(() => nativeBinding.setVerifyUnverified(bad as never)), ErrorCode.InvalidArgument);
  const freed = new nativeBinding.Context(nativeBinding.methods.TLS_server_method);
  freed.free();
  assert.is(code(() => nativeBinding.setVerifyUnverified(freed)), ErrorCode.Closed);
  const client = new nativeBinding.Context(nativeBinding.methods.TLS_client_method);
  assert.is(code(() => nativeBinding.setVerifyUnverified(client)), ErrorCode.State);
  const generic = new nativeBinding.Context(nativeBinding.methods.TLS_method);
  assert.is(code(() => nativeBinding.setVerifyUnverified(generic)), 'no throw');
  assert.is(generic.getVerifyMode(), SSL_VERIFY_PEER);
  client.free();
  generic.free();
});

eachTransport(Misuse, "requestCert: true still refuses a self-signed certificate (the mode is not the default)", async (transport) => {
  const srv = await startServer({ transport, ...p.server, ca: p.ca.cert, requestCert: true }, recorder([]));
  try {
    const r = await sClient(srv.port, ['-tls1_3', ...certArgs('selfSigned')]);
    assert.not.match(r.stdout, /served/);
  } finally {
    await srv.close();
  }
});

Misuse.run();
