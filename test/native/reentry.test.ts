// Re-entrancy of the memory Session and the Context: every public method
// called from inside every callback the addon makes while OpenSSL is inside a
// handshake (SNI, keylog on either side, the error factory), and from getters
// and setters that run in the middle of a native call (options objects,
// arrays of chunks, the `out` array, prototypes). The process must survive
// each, and the outcome must be the documented one (docs/ARCHITECTURE.md,
// "Re-entrancy"): a call that would re-drive a busy session is refused with
// ERR_TLS_STATE; free() of a busy session or context is deferred to the end of
// the outermost call, which then throws ERR_TLS_CLOSED (session); queries and
// context setters answer (a value or a coded error).
import { randomBytes } from 'node:crypto';

import { binding, CycleFlag, type NativeContext, type NativeSession } from '@rxtls/native';
import { createError, ErrorCode } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { attempt } from '../helpers/assert.js';
import { pki } from '../helpers/pki.js';
import { clientContext, pump, serverContext, side, take, type Side } from '../hostile/lib/memory.js';

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** Every public Session method, with valid arguments. */
const SESSION_CALLS: Record<string, (s: NativeSession) => unknown> = {
  cycle: (s) => s.cycle(),
  cycleAsync: (s) => s.cycleAsync(undefined, undefined, () => {}),
  write: (s) => s.write('x'),
  writev: (s) => s.write(['x', Buffer.from('y')]),
  shutdown: (s) => s.shutdown(),
  verifyClientPostHandshake: (s) => s.verifyClientPostHandshake(),
  info: (s) => s.info(),
  peerCertificate: (s) => s.peerCertificate(),
  peerCertificateChain: (s) => s.peerCertificateChain(true),
  getSession: (s) => s.getSession(),
  exportKeyingMaterial: (s) => s.exportKeyingMaterial(16, 'EXPORTER-test'),
  pointer: (s) => s.pointer(),
  isFreed: (s) => s.isFreed(),
  free: (s) => s.free(),
};
/** Calls that would drive OpenSSL again: refused while the session is busy. */
const REDRIVE = new Set(['cycle', 'cycleAsync', 'write', 'writev', 'shutdown', 'verifyClientPostHandshake']);

/** Every public Context method, with valid arguments. */
const CONTEXT_CALLS: Record<string, (c: NativeContext) => unknown> = {
  setVerify: (c) => c.setVerify(0),
  getVerifyMode: (c) => c.getVerifyMode(),
  loadVerifyLocations: (c) => c.loadVerifyLocations(pki().file('ca', 'crt')),
  setDefaultVerifyPaths: (c) => c.setDefaultVerifyPaths(),
  addCACertificates: (c) => c.addCACertificates(pki().ca.cert),
  useCertificateChain: (c) => c.useCertificateChain(pki().server.cert, false, 1),
  usePrivateKey: (c) => c.usePrivateKey(pki().server.key, false, 1),
  setCipherList: (c) => c.setCipherList('ECDHE+AESGCM'),
  setCiphersuites: (c) => c.setCiphersuites('TLS_AES_128_GCM_SHA256'),
  setProtocolVersions: (c) => c.setProtocolVersions(0, 0),
  getProtocolVersions: (c) => c.getProtocolVersions(),
  setAlpnProtocols: (c) => c.setAlpnProtocols(Buffer.from('\x02h2'), false),
  addServerNameContext: (c) => c.addServerNameContext('other.example', serverContext()),
  setServernameCallback: (c) => c.setServernameCallback(null),
  setKeylogCallback: (c) => c.setKeylogCallback(null),
  setSessionOptions: (c) => c.setSessionOptions(true, 10, 60),
  setTicketKeys: (c) => c.setTicketKeys(randomBytes(80)),
  getTicketKeys: (c) => c.getTicketKeys(),
  pointer: (c) => c.pointer(),
  isFreed: (c) => c.isFreed(),
  free: (c) => c.free(),
};

interface Run {
  /** What the call from inside the callback gave. */
  inner: string | undefined;
  client: Side;
  server: Side;
  /** What each side's own cycle() calls threw, if anything. */
  thrown: { client: string | undefined; server: string | undefined };
  callback: unknown;
}

type Where = 'server SNI callback' | 'server keylog callback' | 'client keylog callback';
const WHERE: Where[] = ['server SNI callback', 'server keylog callback', 'client keylog callback'];

/** Like pump(), but a side whose cycle() throws stops there (its code is kept). */
function pumpCatching(client: Side, server: Side, thrown: Run['thrown']): void {
  const cycle = (s: Side, who: 'client' | 'server', chunk?: Buffer): Buffer | undefined => {
    if (thrown[who] !== undefined || s.error || s.session.isFreed()) return undefined;
    try {
      return take(s, s.session.cycle(chunk));
    } catch (err) {
      thrown[who] = attempt(() => {
        throw err;
      });
      return undefined;
    }
  };
  let toServer = cycle(client, 'client');
  for (let i = 0; i < 50 && toServer; i++) {
    const toClient = cycle(server, 'server', toServer);
    toServer = toClient ? cycle(client, 'client', toClient) : undefined;
  }
}

/** One handshake during which `act` runs once, inside the callback `where`. */
function handshakeCalling(where: Where, act: (session: NativeSession, ctx: NativeContext) => unknown): Run {
  const sctx = serverContext();
  const cctx = clientContext();
  let client: Side | undefined;
  let server: Side | undefined;
  let inner: string | undefined;
  const once = () => {
    if (inner !== undefined) return;
    inner = where.startsWith('client') ? attempt(() => act(client!.session, cctx)) : attempt(() => act(server!.session, sctx));
  };
  // The addon holds callbacks weakly (the TS SSLContext keeps them): this
  // run keeps it, returned with the result, so GC cannot drop it meanwhile.
  const callback = (): undefined => (once(), undefined);
  if (where === 'server SNI callback') sctx.setServernameCallback(callback);
  else if (where === 'server keylog callback') sctx.setKeylogCallback(callback);
  else cctx.setKeylogCallback(callback);
  client = side(cctx, false);
  server = side(sctx, true);
  const thrown: Run['thrown'] = { client: undefined, server: undefined };
  pumpCatching(client, server, thrown);
  return { inner, client, server, thrown, callback };
}

function cleanup(...sides: Side[]): void {
  for (const s of sides) if (!s.session.isFreed()) s.session.free();
}

/** A side ended in a defined state: secure, or failed with a coded error, or freed. */
function assertDefined(s: Side, thrown: string | undefined, label: string): void {
  if (thrown !== undefined) assert.ok(KNOWN_CODES.has(thrown), `${label}: cycle threw ${thrown}`);
  else if (s.error) assert.ok(KNOWN_CODES.has((s.error as { code?: string }).code ?? ''), `${label}: ${String(s.error)}`);
}

const Callbacks = suite('re-entry from the callbacks OpenSSL makes during a handshake');

for (const where of WHERE) {
  const own = where.startsWith('client') ? 'client' : 'server';

  Callbacks(`${where}: every Session method on its own session`, () => {
    for (const [name, call] of Object.entries(SESSION_CALLS)) {
      const run = handshakeCalling(where, (session) => call(session));
      const label = `${where} → session.${name}()`;
      assert.ok(run.inner !== undefined, `${label}: the callback ran`);
      assert.not.match(run.inner!, /^UNCODED/, `${label}: ${run.inner}`);
      if (REDRIVE.has(name)) {
        assert.is(run.inner, 'ERR_TLS_STATE', label);
        assert.ok(run.client.secure && run.server.secure, `${label}: the refused call left the handshake intact`);
      } else if (name === 'free') {
        assert.is(run.inner, 'ok', label);
        // Deferred: the cycle the callback ran in finishes, then reports the free.
        assert.is(run.thrown[own], 'ERR_TLS_CLOSED', label);
        assert.ok(run[own].session.isFreed(), `${label}: freed after the call`);
      } else {
        assert.ok(run.client.secure && run.server.secure, `${label}: handshake completed`);
      }
      assertDefined(run.client, run.thrown.client, label);
      assertDefined(run.server, run.thrown.server, label);
      cleanup(run.client, run.server);
    }
  });

  Callbacks(`${where}: every Context method on the session's context`, () => {
    for (const [name, call] of Object.entries(CONTEXT_CALLS)) {
      const run = handshakeCalling(where, (_session, ctx) => call(ctx));
      const label = `${where} → context.${name}()`;
      assert.ok(run.inner !== undefined, `${label}: the callback ran`);
      assert.not.match(run.inner!, /^UNCODED/, `${label}: ${run.inner}`);
      if (name === 'free') {
        // The sessions hold their own references: the handshake goes on.
        assert.is(run.inner, 'ok', label);
        assert.ok(run.client.secure && run.server.secure, `${label}: handshake completed on a freed context`);
      }
      assertDefined(run.client, run.thrown.client, label);
      assertDefined(run.server, run.thrown.server, label);
      cleanup(run.client, run.server);
    }
  });
}

Callbacks('a handshake with a new session started and run from inside the SNI callback', () => {
  // Another session is independent: nested handshakes on other SSLs work.
  let nested: { client: Side; server: Side } | undefined;
  const run = handshakeCalling('server SNI callback', () => {
    nested = { client: side(clientContext(), false), server: side(serverContext(), true) };
    pump(nested.client, nested.server);
  });
  assert.is(run.inner, 'ok');
  assert.ok(run.client.secure && run.server.secure, 'outer handshake');
  assert.ok(nested!.client.secure && nested!.server.secure, 'nested handshake');
  cleanup(run.client, run.server, nested!.client, nested!.server);
});

Callbacks('the error factory (JS) called inside a failing cycle may free the session: deferred', () => {
  const c = side(clientContext(), false);
  const s = side(serverContext(), true);
  pump(c, s);
  let hook: (() => void) | undefined = () => s.session.free();
  binding.setErrorFactory((code, message, props) => {
    const h = hook;
    hook = undefined;
    h?.();
    return createError(code, message, props);
  });
  try {
    // A forged record makes the server's read fail: the error is built (JS) inside cycle().
    const outcome = attempt(() => s.session.cycle(Buffer.concat([Buffer.from([0x17, 3, 3, 0, 32]), randomBytes(32)])));
    assert.is(hook, undefined, 'the factory ran');
    assert.is(outcome, 'ERR_TLS_CLOSED');
    assert.ok(s.session.isFreed());
  } finally {
    binding.setErrorFactory(createError);
  }
  cleanup(c, s);
});

const Getters = suite('re-entry from getters and setters inside a native call');

Getters('crash 4: write([buf, <getter that calls free()>]) throws ERR_TLS_CLOSED and writes nothing', () => {
  const c = side(clientContext(), false);
  const s = side(serverContext(), true);
  pump(c, s);
  const chunks: unknown[] = [Buffer.from('a')];
  Object.defineProperty(chunks, 1, { get: () => (c.session.free(), Buffer.from('b')) });
  // Before: SSL_write_ex ran on the SSL the getter had just freed (segfault).
  assert.is(attempt(() => c.session.write(chunks as Buffer[])), 'ERR_TLS_CLOSED');
  assert.ok(c.session.isFreed());
  cleanup(c, s);
});

Getters('every Session method from a getter in write()\'s array of chunks', () => {
  for (const [name, call] of Object.entries(SESSION_CALLS)) {
    const c = side(clientContext(), false);
    const s = side(serverContext(), true);
    pump(c, s);
    let inner: string | undefined;
    const chunks: unknown[] = [Buffer.from('a')];
    Object.defineProperty(chunks, 1, { get: () => ((inner = attempt(() => call(c.session))), Buffer.from('b')) });
    let enc: Buffer | undefined;
    const outer = attempt(() => (enc = take(c, c.session.write(chunks as Buffer[]))));
    const label = `write getter → ${name}()`;
    assert.not.match(inner ?? '', /^UNCODED/, `${label}: ${inner}`);
    if (REDRIVE.has(name)) assert.is(inner, 'ERR_TLS_STATE', label);
    if (name === 'free') {
      assert.is(outer, 'ERR_TLS_CLOSED', label);
    } else {
      assert.is(outer, 'ok', label);
      // Both chunks, once each, in order.
      pump(c, s, enc);
      assert.is(Buffer.concat(s.clear).toString(), 'ab', label);
    }
    cleanup(c, s);
  }
});

Getters('a write refused for one bad chunk writes none of the others', () => {
  const c = side(clientContext(), false);
  const s = side(serverContext(), true);
  pump(c, s);
  // Before: 'first' was encrypted, then the 42 threw, and 'first' went out with the next write.
  assert.is(attempt(() => c.session.write([Buffer.from('first'), 42 as unknown as Buffer])), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(c.out[1], undefined, 'out untouched');
  pump(c, s, take(c, c.session.write('second')));
  assert.is(Buffer.concat(s.clear).toString(), 'second');
  cleanup(c, s);
});

Getters('a getter that detaches an earlier chunk\'s buffer: its bytes are read after every getter ran', () => {
  const c = side(clientContext(), false);
  const s = side(serverContext(), true);
  pump(c, s);
  const first = new Uint8Array(4096).fill(0x61);
  const chunks: unknown[] = [first];
  Object.defineProperty(chunks, 1, {
    get: () => (structuredClone(first.buffer, { transfer: [first.buffer] }), Buffer.from('b')),
  });
  assert.is(attempt(() => pump(c, s, take(c, c.session.write(chunks as Uint8Array[])))), 'ok');
  // The detached chunk is empty by the time it is written.
  assert.is(Buffer.concat(s.clear).toString(), 'b');
  cleanup(c, s);
});

Getters('crash 4: new Session(ctx, …, { get <option>() { ctx.free() } }) throws ERR_TLS_CLOSED', () => {
  const options: Record<string, unknown> = {
    servername: 'localhost',
    verifyHost: 'localhost',
    verifyPeer: true,
    alpnProtocols: Buffer.from('\x02h2'),
    session: Buffer.from('not a session'),
    postHandshakeAuth: true,
  };
  for (const key of Object.keys(options)) {
    const ctx = clientContext();
    const opts = {};
    Object.defineProperty(opts, key, { enumerable: true, get: () => (ctx.isFreed() || ctx.free(), options[key]) });
    // Before: SSL_new ran on the SSL_CTX the getter had just freed (segfault).
    const outcome = attempt(() => new binding.Session(ctx, false, [undefined, undefined, undefined], opts).free());
    assert.is(outcome, 'ERR_TLS_CLOSED', key);
    assert.ok(ctx.isFreed(), key);
  }
});

Getters('an option getter that answers differently each time it is read is read once', () => {
  const ctx = clientContext();
  let reads = 0;
  const opts = {
    get servername() {
      reads++;
      return reads === 1 ? 'localhost' : 42;
    },
  };
  const session = new binding.Session(ctx, false, [undefined, undefined, undefined], opts as never);
  assert.is(reads, 1);
  session.free();
  ctx.free();
});

Getters('every Context method from an options getter of new Session()', () => {
  for (const [name, call] of Object.entries(CONTEXT_CALLS)) {
    const ctx = clientContext();
    let inner: string | undefined;
    const opts = {
      get servername() {
        inner = attempt(() => call(ctx));
        return 'localhost';
      },
    };
    const outer = attempt(() => new binding.Session(ctx, false, [undefined, undefined, undefined], opts).free());
    assert.not.match(inner ?? '', /^UNCODED/, `${name}: ${inner}`);
    assert.is(outer, name === 'free' ? 'ERR_TLS_CLOSED' : 'ok', name);
    if (!ctx.isFreed()) ctx.free();
  }
});

Getters('a setter on the out array that frees the session mid-cycle: deferred, then ERR_TLS_CLOSED', () => {
  const c = side(clientContext(), false);
  Object.defineProperty(c.out, 1, { configurable: true, get: () => undefined, set: () => c.session.free() });
  assert.is(attempt(() => c.session.cycle()), 'ERR_TLS_CLOSED');
  assert.ok(c.session.isFreed());
});

Getters('a setter on Object.prototype that frees the session while info() builds its result', () => {
  const c = side(clientContext(), false);
  const s = side(serverContext(), true);
  pump(c, s);
  Object.defineProperty(Object.prototype, 'cipher', { configurable: true, set: () => c.session.free() });
  let outcome: string;
  try {
    // Before: SSL_free ran in the setter and info() went on reading the freed SSL.
    outcome = attempt(() => c.session.info());
  } finally {
    delete (Object.prototype as Record<string, unknown>).cipher;
  }
  assert.is(outcome, 'ok');
  assert.ok(c.session.isFreed());
  cleanup(s);
});

Getters('a setter on Array.prototype that frees the context while getProtocolVersions() builds its result', () => {
  const ctx = clientContext();
  Object.defineProperty(Array.prototype, '0', { configurable: true, set: () => ctx.free() });
  let outcome: string;
  try {
    outcome = attempt(() => ctx.getProtocolVersions());
  } finally {
    delete (Array.prototype as unknown as Record<string, unknown>)['0'];
  }
  assert.is(outcome, 'ok');
  assert.ok(ctx.isFreed());
});

Getters('a context freed while its sessions live keeps their SSL_CTX: they finish the handshake', () => {
  const sctx = serverContext();
  const cctx = clientContext();
  const c = side(cctx, false);
  const s = side(sctx, true);
  sctx.free();
  cctx.free();
  pump(c, s);
  assert.ok(c.secure && s.secure);
  pump(c, s, take(c, c.session.write('after free')));
  assert.is(Buffer.concat(s.clear).toString(), 'after free');
  cleanup(c, s);
});

Getters('a Proxy posing as a Context (its getPrototypeOf trap frees the real one) is refused with a code', () => {
  for (const use of ['addServerNameContext', 'new Session'] as const) {
    const ctx = use === 'new Session' ? clientContext() : serverContext();
    const proxy = new Proxy(
      {},
      { getPrototypeOf: () => (ctx.isFreed() || ctx.free(), (binding.Context as unknown as { prototype: object }).prototype) },
    );
    // Before: instanceof passed and unwrapping the Proxy threw an uncoded "Invalid argument".
    const outcome =
      use === 'new Session'
        ? attempt(() => new binding.Session(proxy as NativeContext, false, [undefined, undefined, undefined]))
        : attempt(() => ctx.addServerNameContext('a.example', proxy as NativeContext));
    assert.is(outcome, 'ERR_TLS_INVALID_ARGUMENT', use);
    assert.ok(ctx.isFreed(), `${use}: the trap ran`);
  }
});

Getters('cycle() refuses a non-Uint8Array chunk without reading it (no valueOf runs)', () => {
  const c = side(clientContext(), false);
  let ran = false;
  const evil = { valueOf: () => ((ran = true), 0), length: 0 };
  assert.is(attempt(() => c.session.cycle(evil as unknown as Buffer)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(attempt(() => c.session.cycle(Buffer.alloc(0), evil as unknown as number)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.not.ok(ran);
  assert.ok(CycleFlag.EncOut & c.session.cycle(), 'the session still works');
  cleanup(c);
});

const Pool = suite('callbacks set while a handshake step is on the thread pool');

Pool('a keylog or SNI callback set after cycleAsync() queued the step is never called from the pool thread', async () => {
  for (const which of ['keylog', 'sni'] as const) {
    const sctx = serverContext();
    const c = side(clientContext(), false);
    const s = side(sctx, true);
    const hello = take(c, c.session.cycle())!;
    let calls = 0;
    const flags = await new Promise<number>((resolve) => {
      // Without JS callbacks on the context the step goes to the pool.
      assert.is(s.session.cycleAsync(hello, hello.length, resolve), -1, `${which}: offloaded`);
      // Set at once, while the worker thread most likely has not reached the
      // callback yet. Before: JS ran on the pool thread (a V8 abort).
      if (which === 'keylog') sctx.setKeylogCallback(() => calls++);
      else sctx.setServernameCallback(() => (calls++, undefined));
    });
    // The step either finished (a keylog line off the JS thread is dropped)
    // or failed the handshake with a coded error (SNI cannot be chosen there).
    if (flags & CycleFlag.Error) assert.ok(KNOWN_CODES.has((s.out[2] as { code?: string }).code ?? ''), which);
    else {
      pump(s, c, take(s, flags));
      assert.ok(c.secure && s.secure, `${which}: handshake completed`);
    }
    cleanup(c, s);
  }
});

Callbacks.run();
Getters.run();
Pool.run();
