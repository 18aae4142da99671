// Client certificates: servers that require them (SSL_VERIFY_PEER |
// SSL_VERIFY_FAIL_IF_NO_PEER_CERT), clients that present a certificate and
// key, and TLS 1.3 post-handshake authentication. Peers: `openssl s_client`
// (-cert, -enable_pha), node:tls, rxtls.
import * as tls from 'node:tls';

import {
  SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
  SSL_VERIFY_PEER,
  SSL_VERIFY_POST_HANDSHAKE,
  TLSServerContext,
  connectTls,
  type SecureConnection,
  type TlsEngine,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { startServer, startServerOn, type RunningServer, type RunningServerOn, type ServerConnection } from '../helpers/features.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { eachTransport } from '../helpers/transports.js';

const p = pki();
const sClient = (port: number, args: string[], input = '') =>
  withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', ...args], input), 20_000, 's_client');
const withClientCert = ['-cert', p.file('client', 'crt'), '-key', p.file('client', 'key')];

/** Says who the client is, then closes. */
function whoAmI(engine: SecureConnection): void {
  engine.onsecure = () => {
    engine.write(`client=${engine.peerCertificate()?.subject.CN ?? 'none'}\n`);
    engine.end();
  };
}

async function firstError(srv: Pick<RunningServer, 'errors'>): Promise<Error & { code: string }> {
  await withTimeout(
    new Promise<void>((resolve) => {
      const check = () => (srv.errors.length > 0 ? resolve() : setTimeout(check, 10));
      check();
    }),
    10_000,
    'server error',
  );
  return srv.errors[0] as Error & { code: string };
}

const mtls = suite<{ srv?: RunningServer }>('client certificates');
mtls.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
});

eachTransport(mtls, 'a server that requires a certificate accepts openssl s_client -cert', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, ca: p.ca.cert, requestCert: true }, whoAmI);
  for (const version of ['-tls1_3', '-tls1_2']) {
    const r = await sClient(ctx.srv.port, [version, ...withClientCert]);
    assert.match(r.stdout, /client=rxtls test client/, r.stdout + r.stderr);
    // The CertificateRequest names the CA given as `ca`.
    assert.match(r.stdout, /Acceptable client certificate CA names\s+CN\s*=\s*rxtls test CA/);
  }
});

eachTransport(mtls, '... and refuses a client without one, or with an untrusted one', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, ca: p.ca.cert, requestCert: true }, whoAmI);
  const none = await sClient(ctx.srv.port, ['-tls1_3']);
  assert.not.match(none.stdout, /client=/);
  assert.match(none.stderr + none.stdout, /certificate required|handshake failure/i);
  const err = await firstError(ctx.srv);
  assert.is(err.code, 'ERR_TLS_HANDSHAKE');
  assert.match(err.message, /peer did not return a certificate|certificate/i);

  ctx.srv.errors.length = 0;
  const untrusted = await sClient(ctx.srv.port, ['-tls1_3', '-cert', p.file('selfSigned', 'crt'), '-key', p.file('selfSigned', 'key')]);
  assert.not.match(untrusted.stdout, /client=/);
  const verr = (await firstError(ctx.srv)) as Error & { code: string; verifyCode?: number };
  assert.is(verr.code, 'ERR_TLS_CERT_VERIFY');
  assert.is(verr.verifyCode, 18); // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
});

eachTransport(mtls, 'requestCert with rejectUnauthorized false serves clients without a certificate', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, ca: p.ca.cert, requestCert: true, rejectUnauthorized: false }, whoAmI);
  const none = await sClient(ctx.srv.port, []);
  assert.match(none.stdout, /client=none/);
  const some = await sClient(ctx.srv.port, withClientCert);
  assert.match(some.stdout, /client=rxtls test client/);
});

eachTransport(mtls, 'an rxtls client presents its certificate to rxtls and node:tls servers', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, ca: p.ca.cert, requestCert: true }, whoAmI);
  const engine = await connect({ transport, host: 'localhost', port: ctx.srv.port, ca: p.ca.cert, cert: p.client.cert, key: p.client.key });
  const line = await new Promise<string>((resolve) => (engine.ondata = (d) => resolve(d.toString())));
  assert.is(line, 'client=rxtls test client\n');
  engine.destroy();

  const server = tls.createServer({ ...p.server, ca: p.ca.cert, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end(`node sees ${(s.getPeerCertificate() as tls.PeerCertificate).subject.CN} authorized=${s.authorized}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const port = (server.address() as { port: number }).port;
    const e2 = await connect({ transport, host: 'localhost', port, ca: p.ca.cert, cert: p.client.cert, key: p.client.key });
    const got = await new Promise<string>((resolve) => (e2.ondata = (d) => resolve(d.toString())));
    assert.is(got, 'node sees rxtls test client authorized=true\n');
    e2.destroy();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

mtls.run();

/** A server that asks for the certificate after the handshake when the client says "auth". */
function phaServer(engine: ServerConnection): void {
  engine.ondata = (d) => {
    if (!d.toString().includes('auth')) return;
    engine.write(`before=${engine.peerCertificate()?.subject.CN ?? 'none'}\n`);
    engine.verifyClientPostHandshake();
    // Queued until the client answered.
    engine.write('queued\n');
  };
  engine.onpeercertificate = (cert) => {
    engine.write(`after=${cert?.subject.CN ?? 'none'} chain=${engine.peerCertificateChain().length} authorized=${engine.authorized}\n`);
    engine.end();
  };
}

function phaContext(mode: number): TLSServerContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(p.server.cert, p.server.key);
  ctx.set_verify_locations(p.ca.cert);
  ctx.set_verify(mode);
  return ctx;
}

// Post-handshake authentication on both server transports (the native one
// sends the CertificateRequest and reads the answer in C++).
for (const transport of ['js', 'native'] as const) {
  const pha = suite<{ srv?: RunningServerOn }>(`post-handshake authentication (${transport} server)`);
  pha.after.each(async (ctx) => {
    await ctx.srv?.close();
    ctx.srv = undefined;
  });

  pha('against openssl s_client -enable_pha', async (ctx) => {
    ctx.srv = await startServerOn(transport, { context: phaContext(SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) }, phaServer);
    const r = await sClient(ctx.srv.port, ['-tls1_3', '-enable_pha', ...withClientCert], 'auth\n');
    // s_client interleaves its own report (the tickets) with the data: check the order only.
    assert.match(r.stdout, /before=none[\s\S]*queued[\s\S]*after=rxtls test client chain=2 authorized=true/, r.stdout + r.stderr);
    assert.is(ctx.srv.errors.length, 0);
  });

  pha('a client with no certificate is refused', async (ctx) => {
    ctx.srv = await startServerOn(transport, { context: phaContext(SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) }, phaServer);
    const r = await sClient(ctx.srv.port, ['-tls1_3', '-enable_pha'], 'auth\n');
    assert.not.match(r.stdout, /after=/);
    const err = await firstError(ctx.srv);
    assert.match(err.code, /ERR_TLS_(HANDSHAKE|PROTOCOL)/);
  });

  pha('needs a client that offered it (and TLS 1.3)', async (ctx) => {
    const thrown: Array<Error & { code: string }> = [];
    ctx.srv = await startServerOn(transport, { ...p.server }, (engine) => {
      engine.ondata = () => {
        try {
          engine.verifyClientPostHandshake();
        } catch (err) {
          thrown.push(err as Error & { code: string });
        }
        engine.end();
      };
    });
    await sClient(ctx.srv.port, ['-tls1_3', ...withClientCert], 'auth\n');
    await sClient(ctx.srv.port, ['-tls1_2', ...withClientCert], 'auth\n');
    assert.equal(thrown.map((e) => e.code), ['ERR_TLS_STATE', 'ERR_TLS_STATE']);
  });

  for (const clientTransport of ['js', 'native'] as const) {
    pha(`rxtls <-> rxtls (${clientTransport} client)`, async (ctx) => {
      ctx.srv = await startServerOn(transport, { context: phaContext(SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE) }, phaServer);
      const client = connectTls({
        host: 'localhost',
        port: ctx.srv.port,
        ca: p.ca.cert,
        cert: p.client.cert,
        key: p.client.key,
        postHandshakeAuth: true,
        transport: clientTransport,
      });
      let text = '';
      const closed = new Promise((resolve) => (client.onclose = resolve));
      client.ondata = (d) => (text += d.toString());
      client.onsecure = () => client.write('auth');
      assert.is(await withTimeout(closed, 10_000, 'pha'), undefined);
      assert.match(text, /before=none\nqueued\nafter=rxtls test client chain=\d authorized=true/, text);
    });
  }

  pha.run();
}
