// The native feature entry points with no sockets: two sessions pumped into
// each other. Argument and state checks, and every new method after free().
import { binding, CycleFlag, type NativeContext, type NativeSession, type SessionOut } from '@rxtls/native';
import '@rxtls/core'; // installs the error factory: native errors become TlsError classes
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { pki } from '../helpers/pki.js';

const { TLS_client_method, TLS_server_method } = binding.methods;
const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

interface Side {
  ctx: NativeContext;
  session: NativeSession;
  out: SessionOut;
  flags: number;
}

function make(isServer: boolean, options: Record<string, unknown> = {}, ctx?: NativeContext): Side {
  const c = ctx ?? new binding.Context(isServer ? TLS_server_method : TLS_client_method);
  if (isServer && !ctx) {
    c.useCertificateChain(pki().server.cert, false, 1);
    c.usePrivateKey(pki().server.key, false, 1);
  }
  const out: SessionOut = [undefined, undefined, undefined];
  return { ctx: c, session: new binding.Session(c, isServer, out, { verifyPeer: false, ...options }), out, flags: 0 };
}

/** Pumps until quiet; collects the flags each side saw. */
function pump(client: Side, server: Side): void {
  const step = (s: Side, input?: Buffer) => {
    const f = s.session.cycle(input);
    s.flags |= f;
    const enc = f & CycleFlag.EncOut ? s.out[1] : undefined;
    s.out[1] = undefined;
    return enc;
  };
  let toServer = step(client);
  let toClient: Buffer | undefined;
  for (let i = 0; i < 50 && (toServer || toClient); i++) {
    if (toServer) (toClient = step(server, toServer)), (toServer = undefined);
    else if (toClient) (toServer = step(client, toClient)), (toClient = undefined);
  }
}

const features = suite('native features');

features('session, keying material and ALPN through two memory sessions', () => {
  const server = make(true);
  server.ctx.setAlpnProtocols(Buffer.from('\x02h2\x08http/1.1', 'latin1'), true);
  const client = make(false, { alpnProtocols: Buffer.from('\x08http/1.1', 'latin1') });
  assert.is(client.session.getSession(), null, 'no session before the handshake');
  assert.throws(() => client.session.exportKeyingMaterial(16, 'x'), code('ERR_TLS_STATE'));
  pump(client, server);
  assert.ok(client.flags & CycleFlag.Secure);
  assert.ok(client.flags & CycleFlag.Session, 'the TLS 1.3 ticket raised CycleFlag.Session');
  assert.is(client.session.info().alpnProtocol, 'http/1.1');
  assert.is(server.session.info().alpnProtocol, 'http/1.1');
  const a = client.session.exportKeyingMaterial(32, 'EXPORTER-test');
  assert.ok(a.equals(server.session.exportKeyingMaterial(32, 'EXPORTER-test')));
  const saved = client.session.getSession();
  assert.ok(saved && saved.length > 0);

  const again = make(false, { session: saved! }, client.ctx);
  const server2 = make(true, {}, server.ctx);
  pump(again, server2);
  assert.ok(again.session.info().resumed);
  assert.ok(server2.session.info().resumed);
});

features('state checks: post-handshake auth', () => {
  const server = make(true);
  const client = make(false);
  assert.throws(() => client.session.verifyClientPostHandshake(), code('ERR_TLS_STATE'));
  assert.throws(() => server.session.verifyClientPostHandshake(), code('ERR_TLS_STATE'));
  pump(client, server);
  // The client made no offer (its context has no certificate).
  assert.throws(() => server.session.verifyClientPostHandshake(), code('ERR_TLS_STATE'));
});

features('argument checks', () => {
  const server = make(true);
  const bad = code('ERR_TLS_INVALID_ARGUMENT');
  assert.throws(() => server.ctx.setAlpnProtocols(Buffer.from([3, 1]), true), bad);
  assert.throws(() => server.ctx.setAlpnProtocols(Buffer.from([2, 1, 1]), 'yes' as never), bad);
  assert.throws(() => server.ctx.setTicketKeys(Buffer.alloc(81)), bad);
  assert.throws(() => server.ctx.setSessionOptions(true, -2, 0), bad);
  assert.throws(() => server.ctx.addServerNameContext('', null), bad);
  assert.throws(() => server.ctx.addServerNameContext('a.test', {} as NativeContext), bad);
  assert.throws(() => server.ctx.setServernameCallback('f' as never), bad);
  assert.throws(() => server.ctx.setKeylogCallback(1 as never), bad);
  assert.throws(() => make(false, { session: Buffer.from('nope') }), bad);
  assert.throws(() => make(false, { session: 'nope' as never }), bad);
  assert.throws(() => make(false, { alpnProtocols: 'h2' as never }), bad);
  assert.throws(() => make(false, { postHandshakeAuth: 1 as never }), bad);
  const client = make(false);
  assert.throws(() => client.ctx.addServerNameContext('a.test', null), code('ERR_TLS_STATE'));
  assert.throws(() => client.ctx.setTicketKeys(Buffer.alloc(80)), code('ERR_TLS_STATE'));
  assert.throws(() => client.session.exportKeyingMaterial(0, 'x'), bad);
});

features('every feature method throws ERR_TLS_CLOSED after free()', () => {
  const { ctx, session } = make(true);
  session.free();
  for (const call of [
    () => session.peerCertificateChain(),
    () => session.exportKeyingMaterial(8, 'x'),
    () => session.getSession(),
    () => session.verifyClientPostHandshake(),
    () => session.info(),
  ])
    assert.throws(call, code('ERR_TLS_CLOSED'));
  ctx.free();
  for (const call of [
    () => ctx.setAlpnProtocols(Buffer.from([2, 104, 50]), true),
    () => ctx.addServerNameContext('a.test', null),
    () => ctx.setServernameCallback(null),
    () => ctx.setKeylogCallback(null),
    () => ctx.setSessionOptions(true, -1, -1),
    () => ctx.setTicketKeys(Buffer.alloc(80)),
    () => ctx.getTicketKeys(),
  ])
    assert.throws(call, code('ERR_TLS_CLOSED'));
});

features.run();
