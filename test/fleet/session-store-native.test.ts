// The native half of the session store, with two memory sessions and no
// socket: the pause at the ClientHello (CycleFlag.SessionLookup), the
// request, the answer and the resumed handshake; the new sessions handed
// out; misuse (wrong state, wrong types, a freed session, a client context).
import { binding, CycleFlag, type NativeContext, type NativeSession, type SessionOut } from '@rxtls/native';
import '@rxtls/core'; // installs the error factory: native errors carry their codes
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { pki } from '../helpers/pki.js';

const { TLS_client_method, TLS_server_method } = binding.methods;
const TLS1_2 = 0x0303;
const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

function serverContext(): NativeContext {
  const ctx = new binding.Context(TLS_server_method);
  ctx.useCertificateChain(pki().server.cert, false, 1);
  ctx.usePrivateKey(pki().server.key, false, 1);
  ctx.setSessionOptions(false, -1, 300);
  binding.setSessionStore(ctx, true);
  return ctx;
}

function clientContext(): NativeContext {
  const ctx = new binding.Context(TLS_client_method);
  ctx.addCACertificates(pki().ca.cert);
  ctx.setProtocolVersions(0, TLS1_2);
  return ctx;
}

interface Side {
  s: NativeSession;
  out: SessionOut;
  flags: number[];
}

function open(ctx: NativeContext, isServer: boolean, session?: Buffer): Side {
  const out: SessionOut = [undefined, undefined, undefined];
  return { s: new binding.Session(ctx, isServer, out, isServer ? {} : { verifyHost: 'localhost', ...(session ? { session } : {}) }), out, flags: [] };
}

/** One cycle; returns the ciphertext it produced. */
function cycle(side: Side, chunk?: Buffer): Buffer | undefined {
  const f = side.s.cycle(chunk);
  side.flags.push(f);
  if (f & CycleFlag.Error) throw side.out[2];
  const enc = f & CycleFlag.EncOut ? side.out[1] : undefined;
  side.out[0] = side.out[1] = side.out[2] = undefined;
  return enc;
}

/** Pumps until both sides are quiet; the server stops at a lookup (returns true then). */
function pump(client: Side, server: Side): boolean {
  let toServer = cycle(client);
  for (let i = 0; i < 50 && toServer; i++) {
    const toClient = cycle(server, toServer);
    if (server.flags.at(-1)! & CycleFlag.SessionLookup) return true;
    toServer = toClient ? cycle(client, toClient) : undefined;
  }
  return false;
}

const any = (side: Side, flag: number) => side.flags.some((f) => f & flag);

const native = suite('session store (native)');

native('a full handshake hands out its session; a resumption pauses for the lookup and resumes with the answer', () => {
  const sctx = serverContext();
  const cctx = clientContext();
  const c1 = open(cctx, false);
  const s1 = open(sctx, true);
  assert.not.ok(pump(c1, s1), 'no session to resume: no lookup');
  assert.ok(any(s1, CycleFlag.Secure) && any(s1, CycleFlag.Session));
  const kept = s1.s.takeStoreSessions();
  assert.is(kept.length, 1);
  assert.is(kept[0]!.id.length, 32);
  assert.is(kept[0]!.ttl, 300);
  assert.equal(s1.s.takeStoreSessions(), [], 'taken once');
  const clientSession = c1.s.getSession()!;

  const c2 = open(cctx, false, clientSession);
  const s2 = open(sctx, true);
  assert.is(s2.s.sessionStoreRequest(), null, 'nothing asked before the ClientHello');
  assert.ok(pump(c2, s2), 'paused at the ClientHello');
  assert.is(s2.flags.at(-1)! & CycleFlag.EncOut, 0, 'nothing sent while paused');
  assert.ok(s2.s.sessionStoreRequest()!.equals(kept[0]!.id), 'asks for the session ID');
  // Cycled again before the answer: still paused.
  assert.is(cycle(s2), undefined);
  assert.ok(s2.flags.at(-1)! & CycleFlag.SessionLookup);
  assert.throws(() => s2.s.sessionStoreAnswer('nope' as unknown as Buffer), code('ERR_TLS_INVALID_ARGUMENT'));
  assert.ok(s2.s.sessionStoreAnswer(kept[0]!.session));
  assert.throws(() => s2.s.sessionStoreAnswer(null), code('ERR_TLS_STATE'), 'answered once');
  assert.is(s2.s.sessionStoreRequest(), null);
  let toClient = cycle(s2);
  for (let i = 0; i < 50 && toClient; i++) {
    const toServer = cycle(c2, toClient);
    toClient = toServer ? cycle(s2, toServer) : undefined;
  }
  assert.ok(any(c2, CycleFlag.Secure) && any(s2, CycleFlag.Secure));
  assert.ok(s2.s.info().resumed && c2.s.info().resumed);
  assert.equal(s2.s.takeStoreSessions(), [], 'a resumption makes no new session');

  // Answers that are no session for that ID: a full handshake.
  for (const answer of [null, Buffer.from('garbage'), s1.s.getSession()!.subarray(0, 10)]) {
    const c = open(cctx, false, clientSession);
    const s = open(sctx, true);
    assert.ok(pump(c, s));
    assert.not.ok(s.s.sessionStoreAnswer(answer));
    let toC = cycle(s);
    for (let i = 0; i < 50 && toC; i++) {
      const toS = cycle(c, toC);
      toC = toS ? cycle(s, toS) : undefined;
    }
    assert.ok(any(s, CycleFlag.Secure));
    assert.not.ok(s.s.info().resumed);
    assert.is(s.s.takeStoreSessions().length, 1, 'the full handshake made a new session');
  }
  // A session for another ID is refused too.
  const c3 = open(cctx, false, clientSession);
  const s3 = open(sctx, true);
  const other = open(cctx, false);
  const sOther = open(sctx, true);
  pump(other, sOther);
  assert.ok(pump(c3, s3));
  assert.not.ok(s3.s.sessionStoreAnswer(sOther.s.takeStoreSessions()[0]!.session));
  for (const x of [c1, s1, c2, s2, c3, s3, other, sOther]) x.s.free();
});

native('a session freed during the lookup refuses the late answer; misuse throws with codes', () => {
  const sctx = serverContext();
  const cctx = clientContext();
  const c1 = open(cctx, false);
  const s1 = open(sctx, true);
  pump(c1, s1);
  const kept = s1.s.takeStoreSessions()[0]!;
  const c2 = open(cctx, false, c1.s.getSession()!);
  const s2 = open(sctx, true);
  assert.ok(pump(c2, s2));
  s2.s.free();
  assert.throws(() => s2.s.sessionStoreAnswer(kept.session), code('ERR_TLS_CLOSED'));
  assert.throws(() => s2.s.sessionStoreRequest(), code('ERR_TLS_CLOSED'));
  assert.throws(() => s2.s.takeStoreSessions(), code('ERR_TLS_CLOSED'));
  assert.throws(() => s1.s.sessionStoreAnswer(null), code('ERR_TLS_STATE'), 'no lookup pending');
  assert.throws(() => binding.setSessionStore(cctx, true), code('ERR_TLS_STATE'));
  assert.throws(() => binding.setSessionStore({} as NativeContext, true), code('ERR_TLS_INVALID_ARGUMENT'));
  assert.throws(() => binding.setSessionStore(sctx, 1 as unknown as boolean), code('ERR_TLS_INVALID_ARGUMENT'));
  // Off again: OpenSSL's own cache, no pause.
  binding.setSessionStore(sctx, false);
  const c3 = open(cctx, false, c1.s.getSession()!);
  const s3 = open(sctx, true);
  assert.not.ok(pump(c3, s3));
  assert.ok(any(s3, CycleFlag.Secure));
  for (const x of [c1, s1, c2, c3, s3]) x.s.free();
});

native.run();
