// SSL's TLS feature extensions on a socket descriptor (set_fd): resumption
// (get_session/set_session/session_reused), ALPN, the peer's certificate,
// and their argument and state checks. Peers: openssl s_server/s_client,
// node:tls, rxtls TLSSocket.
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';

import {
  SSL,
  SSL_VERIFY_PEER,
  Socket,
  TLSClientContext,
  TLSServerContext,
  TLSSocket,
  type TlsError,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { runSClient, startSServer, type OpensslServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { readAll, withServerSsl } from '../helpers/ssl.js';

const P = pki();

function clientContext(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(P.ca.cert);
  return ctx;
}

function serverContext(): TLSServerContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.server.cert, P.server.key);
  return ctx;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as TlsError).code;
  }
  return undefined;
}

/** A client SSL on a fresh TCP connection to 127.0.0.1:port; `setup` runs before the handshake. */
async function sslClient(port: number, setup: (ssl: SSL) => void = () => {}): Promise<{ ssl: SSL; sock: Socket }> {
  const sock = new Socket();
  await sock.connect('127.0.0.1', port);
  const ssl = new SSL(clientContext());
  ssl.set_fd(sock.id);
  ssl.set_connect_state();
  setup(ssl);
  await withTimeout(ssl.connect(), 10_000, 'SSL connect');
  return { ssl, sock };
}

/** GETs the s_server -www page over a client SSL; frees it. */
async function fetchPage(port: number, setup?: (ssl: SSL) => void) {
  const { ssl, sock } = await sslClient(port, setup);
  try {
    await ssl.write('GET / HTTP/1.0\r\n\r\n');
    const page = await withTimeout(readAll(ssl), 10_000, 'page');
    return { page, session: ssl.get_session(), reused: ssl.session_reused() };
  } finally {
    ssl.free();
    sock.close();
  }
}

/** A suite whose tests may start one openssl s_server (`ctx.s`), stopped after each. */
function sServerSuite(name: string) {
  const s = suite<{ s?: OpensslServer }>(name);
  s.after.each(async (ctx) => {
    await ctx.s?.stop();
    ctx.s = undefined;
  });
  return s;
}

/** openssl s_server -www with the test server certificate, plus `args`. */
const www = (...args: string[]) => startSServer([...args, '-www', '-cert', P.file('server', 'crt'), '-key', P.file('server', 'key')]);

// ---------------------------------------------------------------------------
const resume = sServerSuite('SSL resumption');

for (const version of ['-tls1_3', '-tls1_2']) {
  resume(`get_session/set_session/session_reused against openssl s_server ${version}`, async (ctx) => {
    ctx.s = await www(version);
    const first = await fetchPage(ctx.s.port);
    assert.match(first.page, /\bNew, /);
    assert.is(first.reused, false);
    assert.instance(first.session, Buffer);
    const second = await fetchPage(ctx.s.port, (ssl) => ssl.set_session(first.session!));
    // s_server -www reports the resumption from its side too.
    assert.match(second.page, /\bReused, /, second.page.slice(0, 400));
    assert.is(second.reused, true);
    // The bytes are the same format a TLSSocket takes.
    const sock = new TLSSocket(null, clientContext());
    sock.set_session(second.session!);
    await withTimeout(sock.connect('127.0.0.1', ctx.s.port, 10_000), 15_000, 'TLSSocket');
    assert.is(sock.is_session_reused(), true);
    sock.close();
  });
}

resume('set_session/get_session: arguments and state', async (ctx) => {
  const ssl = new SSL(clientContext());
  assert.is(ssl.get_session(), null, 'no session before a handshake');
  assert.is(ssl.session_reused(), false);
  assert.is(codeOf(() => ssl.set_session('x' as unknown as Buffer)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => ssl.set_session(Buffer.alloc(0))), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => ssl.set_session(Buffer.from('not a session'))), 'ERR_TLS_INVALID_ARGUMENT');
  ssl.free();
  assert.is(codeOf(() => ssl.get_session()), 'ERR_TLS_CLOSED');
  assert.is(codeOf(() => ssl.set_session(Buffer.alloc(8))), 'ERR_TLS_CLOSED');
  assert.is(codeOf(() => ssl.session_reused()), 'ERR_TLS_CLOSED');
  assert.is(codeOf(() => ssl.set_alpn_protocols(['h2'])), 'ERR_TLS_CLOSED');
  assert.is(codeOf(() => ssl.get_alpn_protocol()), 'ERR_TLS_CLOSED');
  assert.is(codeOf(() => ssl.get_peer_certificate()), 'ERR_TLS_CLOSED');

  const server = new SSL(serverContext());
  assert.is(codeOf(() => server.set_session(Buffer.alloc(8))), 'ERR_TLS_STATE', 'a server offers no session');
  server.free();

  ctx.s = await www('-tls1_3');
  const { ssl: done, sock } = await sslClient(ctx.s.port);
  assert.is(codeOf(() => done.set_session(Buffer.alloc(8))), 'ERR_TLS_STATE', 'too late after the handshake');
  done.free();
  sock.close();
});

resume.run();

// ---------------------------------------------------------------------------
const alpn = sServerSuite('SSL ALPN and peer certificate');

alpn('client: set_alpn_protocols/get_alpn_protocol against openssl s_server -alpn', async (ctx) => {
  ctx.s = await www('-alpn', 'http/1.1');
  const { ssl, sock } = await sslClient(ctx.s.port, (s) => s.set_alpn_protocols(['h2', 'http/1.1']));
  assert.is(ssl.get_alpn_protocol(), 'http/1.1');
  assert.is(ssl.get_peer_certificate()?.subject.CN, 'localhost');
  assert.is(codeOf(() => ssl.set_alpn_protocols(['h2'])), 'ERR_TLS_STATE');
  ssl.free();
  sock.close();
  const none = await sslClient(ctx.s.port);
  assert.is(none.ssl.get_alpn_protocol(), null);
  none.ssl.free();
  none.sock.close();
  const bad = new SSL(clientContext());
  assert.is(codeOf(() => bad.set_alpn_protocols([''])), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => bad.set_alpn_protocols(['x'.repeat(256)])), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => bad.set_alpn_protocols('h2' as unknown as string[])), 'ERR_TLS_INVALID_ARGUMENT');
  bad.set_alpn_protocols(null); // offers none: allowed
  bad.free();
});

alpn('server: the context selects, the SSL reports it (openssl s_client -alpn)', async () => {
  const ctx = serverContext();
  ctx.set_alpn_protocols(['h2', 'http/1.1']);
  let out = '';
  await withServerSsl(
    ctx,
    async (ssl) => {
      await ssl.accept();
      assert.is(ssl.get_alpn_protocol(), 'h2');
      assert.is(ssl.get_peer_certificate(), null, 'no client certificate asked for');
      assert.is(codeOf(() => ssl.set_alpn_protocols(['h2'])), 'ERR_TLS_STATE', 'a server selects from its context');
      await ssl.write('bye\n');
      await ssl.shutdown();
    },
    async (port) => {
      out = (await runSClient(port, ['-alpn', 'http/1.1,h2', '-CAfile', P.file('ca', 'crt'), '-ign_eof'], '')).stdout;
    },
  );
  assert.match(out, /ALPN protocol: h2/);
});

alpn("server: the context's SNI table and keylog callback apply (openssl s_client -servername)", async () => {
  const ctx = serverContext();
  const other = new TLSServerContext();
  other.load_certs(P.otherHost.cert, P.otherHost.key);
  ctx.set_servername_context('other.example', other);
  const lines: string[] = [];
  // Keylog follows the context SNI chose.
  other.set_keylog_callback((line) => lines.push(line));
  let out = '';
  await withServerSsl(
    ctx,
    async (ssl) => {
      await ssl.accept();
      assert.is(ssl.info().servername, 'other.example');
      await ssl.write('bye\n');
      await ssl.shutdown();
    },
    async (port) => {
      out = (await runSClient(port, ['-servername', 'other.example', '-CAfile', P.file('ca', 'crt'), '-ign_eof'], '')).stdout;
    },
  );
  assert.match(out, /subject=.*CN\s*=\s*other\.example/);
  assert.ok(lines.some((l) => l.startsWith('SERVER_TRAFFIC_SECRET_0 ')), lines.join('\n'));
});

alpn("server: get_peer_certificate gives the client's certificate (node:tls client)", async () => {
  const ctx = serverContext();
  ctx.set_verify_locations(P.ca.cert);
  ctx.set_verify(SSL_VERIFY_PEER);
  await withServerSsl(
    ctx,
    async (ssl) => {
      await ssl.accept();
      const cert = ssl.get_peer_certificate();
      assert.is(cert?.subject.CN, 'rxtls test client');
      assert.is(cert?.issuer.CN, 'rxtls test CA');
      assert.ok(cert?.raw.equals(new X509Certificate(P.client.cert).raw));
      await ssl.write(`hello ${cert?.subject.CN}\n`);
      await ssl.shutdown();
    },
    async (port) => {
      const c = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: P.ca.cert, cert: P.client.cert, key: P.client.key });
      let got = '';
      c.setEncoding('utf8');
      c.on('data', (d) => (got += d));
      await new Promise<void>((resolve, reject) => {
        c.once('end', () => resolve());
        c.once('error', reject);
      });
      c.end();
      assert.is(got, 'hello rxtls test client\n');
    },
  );
});

alpn.run();
