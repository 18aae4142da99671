// Re-entrancy at the engine level: every public TlsEngine method, and every
// setter of the connection's SSLContext, called from inside every callback a
// connection makes (the context's SNI and keylog callbacks, which run inside
// the native handshake, and onsecure, ondata, onend, onerror, onclose,
// onsession, onpeercertificate), on a createTlsServer / connectTls pair over
// 127.0.0.1. The process must survive each, nothing may escape as an uncaught
// exception, and the call must answer: a value, or a TlsError with a code.
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

import {
  connectTls,
  createTlsServer,
  generateTicketKeys,
  SSL_VERIFY_NONE,
  TLSClientContext,
  TLSServerContext,
  type SSLContext,
  type TlsEngine,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { attempt } from '../helpers/assert.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const escaped: unknown[] = [];
process.on('uncaughtException', (err) => escaped.push(err));
process.on('unhandledRejection', (err) => escaped.push(err));

/** Every public TlsEngine method (and the alpnProtocol getter), with valid arguments. */
const ENGINE_CALLS: Record<string, (e: TlsEngine, chunk: Buffer) => unknown> = {
  feed: (e, chunk) => e.feed(chunk, chunk.length),
  write: (e) => e.write('x'),
  writev: (e) => e.writev(['x', Buffer.from('y')]),
  end: (e) => e.end(),
  destroy: (e) => e.destroy(),
  pause: (e) => (e.pause(), setImmediate(() => e.resume())),
  resume: (e) => e.resume(),
  info: (e) => e.info(),
  peerCertificate: (e) => e.peerCertificate(),
  peerCertificateChain: (e) => e.peerCertificateChain(true),
  alpnProtocol: (e) => e.alpnProtocol,
  getSession: (e) => e.getSession(),
  exportKeyingMaterial: (e) => e.exportKeyingMaterial(16, 'EXPORTER-test'),
  verifyClientPostHandshake: (e) => e.verifyClientPostHandshake(),
};

/** Every setter of the documented SSLContext (and free), with valid arguments. */
const CONTEXT_CALLS: Record<string, (c: SSLContext) => unknown> = {
  set_verify: (c) => c.set_verify(SSL_VERIFY_NONE),
  set_verify_locations: (c) => c.set_verify_locations(pki().ca.cert),
  load_certs: (c) => c.load_certs(pki().server.cert, pki().server.key),
  set_ciphers: (c) => c.set_ciphers('ECDHE+AESGCM'),
  set_protocol_versions: (c) => c.set_protocol_versions(0, 0),
  set_alpn_protocols: (c) => c.set_alpn_protocols(['h2'], false),
  set_servername_context: (c) => c.set_servername_context('other.example', new TLSServerContext()),
  set_servername_callback: (c) => c.set_servername_callback(null),
  set_keylog_callback: (c) => c.set_keylog_callback(null),
  set_ticket_keys: (c) => c.set_ticket_keys(generateTicketKeys()),
  get_ticket_keys: (c) => c.get_ticket_keys(),
  set_session_options: (c) => c.set_session_options({ tickets: true, timeout: 60 }),
  free: (c) => c.free(),
};

type Hook = 'sniCallback' | 'keylog' | 'onsecure' | 'ondata' | 'onend' | 'onerror' | 'onclose' | 'onsession' | 'onpeercertificate';
const HOOKS: Hook[] = ['sniCallback', 'keylog', 'onsecure', 'ondata', 'onend', 'onerror', 'onclose', 'onsession', 'onpeercertificate'];

interface Outcome {
  inner: string | undefined;
  server: TlsEngine | undefined;
  client: TlsEngine;
  /** The server connection's own events, in order ('secure', 'error'). */
  events: string[];
}

/**
 * One connection during which `act` runs once inside `hook` (on the client for
 * onsession, the server otherwise). The connection then runs its course:
 * the client sends 'ping' (or garbage, for onerror) and ends after the
 * server's 'hello'; both close, or are destroyed after a bounded wait.
 */
async function connectionCalling(hook: Hook, act: (e: TlsEngine, ctx: SSLContext, chunk: Buffer) => unknown): Promise<Outcome> {
  const sctx = new TLSServerContext();
  sctx.load_certs(pki().server.cert, pki().server.key);
  sctx.set_verify_locations(pki().ca.cert);
  const cctx = new TLSClientContext();
  cctx.set_verify_locations(pki().ca.cert);
  cctx.load_certs(pki().client.cert, pki().client.key);
  let inner: string | undefined;
  let server: TlsEngine | undefined;
  const events: string[] = [];
  let lastChunk = randomBytes(64);
  let serverClosed!: () => void;
  const serverDone = new Promise<void>((r) => (serverClosed = r));
  const fire = (e: TlsEngine | undefined, ctx: SSLContext) => {
    if (inner !== undefined || e === undefined) return;
    inner = attempt(() => act(e, ctx, lastChunk));
  };
  const quiet = (fn: () => void) => attempt(fn);
  const tcp = createTlsServer(
    {
      transport: 'js',
      context: sctx,
      ...(hook === 'sniCallback' ? { sniCallback: () => (fire(server, sctx), undefined) } : {}),
      ...(hook === 'keylog' ? { keylog: () => fire(server, sctx) } : {}),
    },
    (conn) => {
      server = conn;
      const feed = conn.feed.bind(conn);
      conn.feed = (buf, n) => {
        lastChunk = Buffer.from(buf.subarray(0, n));
        feed(buf, n);
      };
      conn.onsecure = () => {
        events.push('secure');
        if (hook === 'onsecure') fire(conn, sctx);
        if (hook === 'onpeercertificate') quiet(() => conn.verifyClientPostHandshake());
        quiet(() => conn.write('hello'));
      };
      conn.ondata = () => hook === 'ondata' && fire(conn, sctx);
      conn.onend = () => hook === 'onend' && fire(conn, sctx);
      conn.onerror = () => {
        events.push('error');
        if (hook === 'onerror') fire(conn, sctx);
      };
      conn.onpeercertificate = () => hook === 'onpeercertificate' && fire(conn, sctx);
      conn.onclose = () => {
        if (hook === 'onclose') fire(conn, sctx);
        serverClosed();
      };
    },
  );
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const client = connectTls({ transport: 'js', host: 'localhost', port: (tcp.address() as AddressInfo).port, context: cctx });
  const clientDone = new Promise<void>((r) => (client.onclose = () => r()));
  client.onsecure = () => {
    if (hook === 'onerror') client.socket.write(Buffer.concat([Buffer.from([0x17, 3, 3, 0, 32]), randomBytes(32)]));
    else quiet(() => client.write('ping'));
  };
  client.ondata = () => quiet(() => client.end());
  client.onsession = () => hook === 'onsession' && fire(client, cctx);
  client.onerror = () => {};
  try {
    await withTimeout(Promise.all([serverDone, clientDone]), 3000, 'both sides closed');
  } catch {
    // A call that stalls the exchange (end before the data, a paused socket):
    // the outcome of the call is what is checked; the test ends it.
  } finally {
    client.destroy();
    server?.destroy();
    await new Promise<void>((r) => tcp.close(() => r()));
  }
  return { inner, server, client, events };
}

const Engine = suite('re-entry from engine and context callbacks');

Engine('crash 3: the SNI callback feeds the connection it runs in: refused, the connection fails, the process lives', async () => {
  // Before: Session::Cycle re-entered from inside the outer handshake: "double free detected in tcache 2".
  const run = await connectionCalling('sniCallback', (e, _ctx, chunk) => e.feed(chunk, chunk.length));
  assert.is(run.inner, 'ok', 'feed() itself returns: the engine turns the refusal into its error');
  assert.is(run.server?.error?.code, 'ERR_TLS_STATE');
  assert.ok(run.client.error !== undefined, 'the client saw the connection fail');
  assert.equal(run.events, ['error'], 'a connection failed inside its handshake never reports onsecure');
  assert.equal(escaped, []);
});

for (const hook of HOOKS) {
  Engine(`${hook}: every TlsEngine method`, async () => {
    for (const [name, call] of Object.entries(ENGINE_CALLS)) {
      const run = await connectionCalling(hook, (e, _ctx, chunk) => call(e, chunk));
      const label = `${hook} → engine.${name}()`;
      assert.ok(run.inner !== undefined, `${label}: the callback ran`);
      assert.not.match(run.inner!, /^UNCODED/, `${label}: ${run.inner}`);
      assert.equal(escaped, [], label);
    }
  });

  Engine(`${hook}: every SSLContext setter on the connection's context`, async () => {
    for (const [name, call] of Object.entries(CONTEXT_CALLS)) {
      const run = await connectionCalling(hook, (_e, ctx) => call(ctx));
      const label = `${hook} → context.${name}()`;
      assert.ok(run.inner !== undefined, `${label}: the callback ran`);
      assert.not.match(run.inner!, /^UNCODED/, `${label}: ${run.inner}`);
      assert.equal(escaped, [], label);
    }
  });
}

Engine.run();
