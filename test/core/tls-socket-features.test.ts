// TLSSocket's TLS feature extensions (resumption, ALPN, certificate chain,
// keying material, post-handshake auth) and the context features its
// accepted sockets inherit (SNI, ALPN, ticket keys, keylog), against real
// peers: openssl s_server/s_client, node:tls, rxtls itself.
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';

import {
  SSL_VERIFY_PEER,
  SSL_VERIFY_POST_HANDSHAKE,
  SSLContext,
  Socket,
  StateError,
  TLSClientContext,
  TLSServerContext,
  TLSSocket,
  generateTicketKeys,
  type TlsError,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { runSClient, startSServer, type OpensslServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { TLS_SOCKET_TRANSPORT, tlsSocket } from '../helpers/tls-socket.js';

const P = pki();

function serverCtx(cert = P.server): TLSServerContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(cert.cert, cert.key);
  return ctx;
}

function clientCtx(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(P.ca.cert);
  return ctx;
}

/** openssl s_server -www with the test server certificate, plus `args`. */
const www = (...args: string[]) => startSServer([...args, '-www', '-cert', P.file('server', 'crt'), '-key', P.file('server', 'key')]);

/** A listening TLSSocket on 127.0.0.1 with `ctx`. */
async function listen(ctx: SSLContext): Promise<TLSSocket> {
  const server = tlsSocket(null, ctx);
  await server.bind(0, '127.0.0.1');
  await server.listen();
  return server;
}

/** Connects a TLSSocket client, optionally offering a session and ALPN first. */
async function connectClient(
  port: number,
  opts: { session?: Buffer | null; alpn?: string[]; host?: string; ctx?: SSLContext } = {},
): Promise<TLSSocket> {
  const client = tlsSocket(null, opts.ctx ?? clientCtx());
  if (opts.session) client.set_session(opts.session);
  if (opts.alpn) client.set_alpn_protocols(opts.alpn);
  await withTimeout(client.connect(opts.host ?? '127.0.0.1', port, 10_000), 15_000, 'connect');
  return client;
}

/** One connection: the server greets, the client reads the greeting (TLS 1.3 tickets come before it). */
async function greetOnce(server: TLSSocket, opts: { session?: Buffer | null; ctx?: SSLContext } = {}) {
  const accepted = withTimeout(server.accept(), 15_000, 'accept');
  const client = await connectClient(server.port, opts);
  const peer = await accepted;
  await peer.send('hi\n');
  assert.is(await withTimeout(client.read(3), 10_000, 'greeting'), 'hi\n');
  const result = { session: client.get_session(), client: client.is_session_reused(), server: peer.is_session_reused() };
  client.close();
  peer.close();
  return result;
}

// --- Resumption --------------------------------------------------------------

const resume = suite<{ s?: OpensslServer; server?: TLSSocket; other?: TLSSocket }>(`TLSSocket resumption [${TLS_SOCKET_TRANSPORT}]`);
resume.after.each(async (ctx) => {
  await ctx.s?.stop();
  ctx.server?.close();
  ctx.other?.close();
  ctx.s = ctx.server = ctx.other = undefined;
});

for (const version of ['-tls1_3', '-tls1_2']) {
  resume(`get_session/set_session resume against openssl s_server ${version} (tickets)`, async (ctx) => {
    ctx.s = await www(version);
    let session: Buffer | null = null;
    for (const round of [1, 2]) {
      const client = await connectClient(ctx.s.port, { session });
      await client.send('GET / HTTP/1.0\r\n\r\n');
      const page = await withTimeout(client.read(-1), 10_000, 'page');
      // s_server -www reports whether it resumed ("Reused") or not ("New").
      assert.match(page, round === 1 ? /\bNew, / : /\bReused, /, page.slice(0, 400));
      assert.is(client.is_session_reused(), round === 2);
      assert.is(client.session_reused, round === 2);
      assert.is(client.get_session_info()?.resumed ?? client.is_session_reused(), round === 2);
      session = client.get_session();
      client.close();
      assert.instance(session, Buffer, 'a resumable session after the page');
      // Still there after close.
      assert.ok(client.get_session()?.equals(session!));
    }
  });
}

resume('TLSSocket server <-> TLSSocket client: the second connection resumes', async (ctx) => {
  ctx.server = await listen(serverCtx());
  const first = await greetOnce(ctx.server);
  assert.is(first.client, false);
  assert.is(first.server, false);
  assert.instance(first.session, Buffer);
  const second = await greetOnce(ctx.server, { session: first.session });
  assert.is(second.client, true);
  assert.is(second.server, true);
});

resume('accepted sockets use the context ticket keys: two servers resume each other', async (ctx) => {
  const keys = generateTicketKeys();
  const a = serverCtx();
  const b = serverCtx();
  a.set_ticket_keys(keys);
  b.set_ticket_keys(keys);
  ctx.server = await listen(a);
  ctx.other = await listen(b);
  const first = await greetOnce(ctx.server);
  const second = await greetOnce(ctx.other, { session: first.session });
  assert.is(second.client, true);
  assert.is(second.server, true);
  // Without the shared keys the other server cannot open the ticket.
  ctx.other.close();
  ctx.other = await listen(serverCtx());
  const third = await greetOnce(ctx.other, { session: first.session });
  assert.is(third.client, false);
});

resume('set_session checks its argument and the state', async (ctx) => {
  const sock = tlsSocket(null, clientCtx());
  assert.throws(() => sock.set_session('nope' as unknown as Buffer), (e: TlsError) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  // A session that does not decode fails the connect, with the reason.
  ctx.server = await listen(serverCtx());
  sock.set_session(Buffer.from('not a session'));
  const accepted = ctx.server.accept().catch(() => undefined);
  const err = await sock.connect('127.0.0.1', ctx.server.port, 5_000).catch((e: TlsError) => e);
  assert.is((err as TlsError).code, 'ERR_TLS_INVALID_ARGUMENT');
  assert.ok(sock.is_closed);
  ctx.server.close();
  await accepted;
  // Once connected it is too late.
  ctx.server = await listen(serverCtx());
  const acc = ctx.server.accept();
  const client = await connectClient(ctx.server.port);
  (await acc).close();
  assert.throws(() => client.set_session(Buffer.alloc(10)), (e: unknown) => e instanceof StateError);
  assert.throws(() => client.set_alpn_protocols(['h2']), (e: unknown) => e instanceof StateError);
  client.close();
  // After close: setters and exports throw, getters report nothing.
  const closed = (e: TlsError) => e.code === 'ERR_TLS_CLOSED';
  assert.throws(() => client.set_session(Buffer.alloc(10)), closed);
  assert.throws(() => client.set_alpn_protocols(['h2']), closed);
  assert.throws(() => client.export_keying_material(16, 'x'), closed);
  assert.is(((await client.verify_client_post_handshake().catch((e: TlsError) => e)) as TlsError).code, 'ERR_TLS_CLOSED');
  assert.is(client.get_alpn_protocol(), null);
  assert.equal(client.get_peer_certificate_chain(), []);
});

resume.run();

// --- ALPN and the context features of accepted sockets -----------------------

const alpn = suite<{ s?: OpensslServer; server?: TLSSocket }>(`TLSSocket ALPN, SNI, keylog [${TLS_SOCKET_TRANSPORT}]`);
alpn.after.each(async (ctx) => {
  await ctx.s?.stop();
  ctx.server?.close();
  ctx.s = ctx.server = undefined;
});

alpn('set_alpn_protocols/get_alpn_protocol against openssl s_server -alpn', async (ctx) => {
  ctx.s = await www('-alpn', 'http/1.1');
  const client = await connectClient(ctx.s.port, { alpn: ['h2', 'http/1.1'] });
  assert.is(client.get_alpn_protocol(), 'http/1.1');
  client.close();
  const none = await connectClient(ctx.s.port);
  assert.is(none.get_alpn_protocol(), null);
  none.close();
  assert.throws(() => tlsSocket().set_alpn_protocols(['']), (e: TlsError) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
});

alpn('an accepted socket selects from the context list: openssl s_client -alpn', async (ctx) => {
  const sctx = serverCtx();
  sctx.set_alpn_protocols(['h2', 'http/1.1']);
  ctx.server = await listen(sctx);
  const accepted = withTimeout(ctx.server.accept(), 15_000, 'accept');
  const run = runSClient(ctx.server.port, ['-alpn', 'http/1.1,h2', '-CAfile', P.file('ca', 'crt'), '-ign_eof'], '');
  const peer = await accepted;
  assert.is(peer.get_alpn_protocol(), 'h2');
  await peer.send('bye\n');
  peer.close();
  const r = await run;
  assert.match(r.stdout, /ALPN protocol: h2/);
});

alpn('accepted sockets use the context SNI map and keylog callback', async (ctx) => {
  const sctx = serverCtx();
  sctx.set_servername_context('other.example', serverCtx(P.otherHost));
  const lines: string[] = [];
  sctx.set_keylog_callback((line) => lines.push(line));
  ctx.server = await listen(sctx);
  for (const [name, cn] of [['other.example', 'other.example'], ['localhost', 'localhost']] as const) {
    const accepted = withTimeout(ctx.server.accept(), 15_000, 'accept');
    // The TCP connection goes to 127.0.0.1; the TLS handshake names `name`.
    const tcp = new Socket();
    await tcp.connect('127.0.0.1', ctx.server.port);
    const client = tlsSocket(tcp, clientCtx());
    await withTimeout(client.connect(name, ctx.server.port, 10_000), 15_000, 'connect');
    const peer = await accepted;
    assert.is(client.get_peer_certificate()?.subject.CN, cn);
    assert.is(peer.get_session_info()?.servername, name);
    client.close();
    peer.close();
  }
  assert.ok(lines.some((l) => l.startsWith('CLIENT_HANDSHAKE_TRAFFIC_SECRET ')), lines.join('\n'));
});

alpn.run();

// --- Certificate chain, keying material, post-handshake auth -----------------

const details = suite<{ node?: tls.Server; server?: TLSSocket }>(`TLSSocket details [${TLS_SOCKET_TRANSPORT}]`);
details.after.each(async (ctx) => {
  if (ctx.node) await new Promise((r) => ctx.node!.close(r));
  ctx.server?.close();
  ctx.node = ctx.server = undefined;
});

details('get_peer_certificate_chain and export_keying_material agree with node:tls', async (ctx) => {
  const context = Buffer.from('ctx-bytes');
  ctx.node = tls.createServer({ cert: P.server.cert + P.ca.cert, key: P.server.key }, (s) => {
    // The server's keying material, for the client to compare with its own.
    s.end(s.exportKeyingMaterial(32, 'EXPORTER-rxtls-test', context).toString('hex') + '\n');
  });
  await new Promise<void>((r) => ctx.node!.listen(0, '127.0.0.1', r));
  const port = (ctx.node.address() as { port: number }).port;
  const client = await connectClient(port);
  const mine = client.export_keying_material(32, 'EXPORTER-rxtls-test', context).toString('hex');
  const theirs = (await withTimeout(client.read(65), 10_000, 'material')).trim();
  assert.is(mine, theirs);
  assert.is.not(client.export_keying_material(32, 'EXPORTER-other').toString('hex'), theirs);
  const sent = client.get_peer_certificate_chain();
  assert.equal(
    sent.map((c) => c.subject.CN),
    ['localhost', 'rxtls test CA'],
  );
  assert.is(sent[0]!.fingerprint256, new X509Certificate(P.server.cert).fingerprint256);
  const verified = client.get_peer_certificate_chain(true);
  assert.is(verified.at(-1)!.fingerprint256, new X509Certificate(P.ca.cert).fingerprint256);
  client.close();
  assert.equal(client.get_peer_certificate_chain(), []);
  assert.throws(() => client.export_keying_material(32, 'x'), (e: TlsError) => e.code === 'ERR_TLS_CLOSED' || e.code === 'ERR_TLS_STATE');
});

function phaContext(): TLSServerContext {
  const ctx = serverCtx();
  ctx.set_verify_locations(P.ca.cert);
  ctx.set_verify(SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE);
  return ctx;
}

details('verify_client_post_handshake against openssl s_client -enable_pha', async (ctx) => {
  ctx.server = await listen(phaContext());
  const accepted = withTimeout(ctx.server.accept(), 15_000, 'accept');
  const run = runSClient(
    ctx.server.port,
    ['-tls1_3', '-enable_pha', '-ign_eof', '-CAfile', P.file('ca', 'crt'), '-cert', P.file('client', 'crt'), '-key', P.file('client', 'key')],
    'auth\n',
  );
  const peer = await accepted;
  assert.is(await withTimeout(peer.read(5), 10_000, 'auth'), 'auth\n');
  assert.is(peer.get_peer_certificate(), null);
  const cert = await withTimeout(peer.verify_client_post_handshake(), 10_000, 'post-handshake auth');
  assert.is(cert?.subject.CN, 'rxtls test client');
  assert.is(peer.get_peer_certificate()?.subject.CN, 'rxtls test client');
  await peer.send(`after=${cert?.subject.CN}\n`);
  peer.close();
  const r = await run;
  assert.match(r.stdout, /after=rxtls test client/, r.stdout + r.stderr);
});

details('verify_client_post_handshake resolves null for a client that sends no certificate', async (ctx) => {
  ctx.server = await listen(phaContext());
  const accepted = withTimeout(ctx.server.accept(), 15_000, 'accept');
  const run = runSClient(ctx.server.port, ['-tls1_3', '-enable_pha', '-ign_eof', '-CAfile', P.file('ca', 'crt')], 'auth\n');
  const peer = await accepted;
  assert.is(await withTimeout(peer.read(5), 10_000, 'auth'), 'auth\n');
  assert.is(await withTimeout(peer.verify_client_post_handshake(), 10_000, 'post-handshake auth'), null);
  await peer.send('after=none\n');
  peer.close();
  assert.match((await run).stdout, /after=none/);
});

details('verify_client_post_handshake: an rxtls client with a certificate; refusals', async (ctx) => {
  ctx.server = await listen(phaContext());
  const cctx = clientCtx();
  cctx.load_certs(P.client.cert, P.client.key);
  const accepted = withTimeout(ctx.server.accept(), 15_000, 'accept');
  const client = await connectClient(ctx.server.port, { ctx: cctx });
  const peer = await accepted;
  const asked = peer.verify_client_post_handshake();
  // A second request while the first runs is refused.
  const again = await peer.verify_client_post_handshake().catch((e: TlsError) => e);
  assert.is((again as TlsError).code, 'ERR_TLS_STATE');
  // The client answers as it reads.
  const reading = client.read(3);
  assert.is((await withTimeout(asked, 10_000, 'pha'))?.subject.CN, 'rxtls test client');
  await peer.send('ok\n');
  assert.is(await withTimeout(reading, 10_000, 'read'), 'ok\n');
  // Only a server asks.
  const fromClient = await client.verify_client_post_handshake().catch((e: TlsError) => e);
  assert.is((fromClient as TlsError).code, 'ERR_TLS_STATE');
  client.close();
  peer.close();
});

details.run();
