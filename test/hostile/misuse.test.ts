// Misuse, table-driven: every public method of every class (the documented
// API, the BIO family, the engine, rx, and the native objects under them)
// called after free()/close(), with wrong types, and out of order gives a
// typed error with a stable `code`, and the process survives.
//
// Methods are found by reflection on each prototype, so a method added later
// is covered without touching this file; the tables only give valid arguments
// (so that after free() it is the object's state that answers, not an
// argument check) and name the few methods documented to keep answering
// after close (inspectors and idempotent closes).
import { Socket as NetSocket, type AddressInfo } from 'node:net';

import {
  AF_INET,
  BIO,
  BIO_NOCLOSE,
  BIO_s_connect,
  ConnectBIO,
  AcceptedBIO,
  connectTls,
  createCertificateAuthority,
  createSelfSignedCertificate,
  createTlsServer,
  encodeAlpn,
  ErrorCode,
  issueCertificate,
  parseCertificate,
  generateTicketKeys,
  Socket,
  SO_KEEPALIVE,
  SSL,
  SSLBIO,
  SSLContext,
  TLS_server_method,
  TLSClientContext,
  TLSServerContext,
  TLSSocket,
  TlsEngine,
  TlsError,
} from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';
import { connect as rxConnect, listen as rxListen, read as rxRead, write as rxWrite, type TlsConnection } from '@rxtls/rx';
import { firstValueFrom, of, type Observable } from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { clientContext as memClientContext, pump, serverContext as memServerContext, side } from './lib/memory.js';

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));
const WRONG = Symbol('a wrong type');

// The process must survive everything below: nothing may escape as an
// uncaught exception or an unhandled rejection.
const escaped: unknown[] = [];
process.on('uncaughtException', (err) => escaped.push(err));
process.on('unhandledRejection', (err) => escaped.push(err));

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs `fn`, awaiting a Promise it returns; a call that never settles is a failure (bounded). */
async function outcome(fn: () => unknown): Promise<Outcome> {
  try {
    const value = await withTimeout(Promise.resolve().then(fn), 5_000, 'misuse call settles');
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  }
}

const codeOf = (o: Outcome): string => (o.ok ? 'returned' : ((o.error as { code?: string }).code ?? `untyped ${(o.error as Error)?.name}`));
const isTyped = (o: Outcome): boolean => !o.ok && o.error instanceof TlsError && KNOWN_CODES.has((o.error as TlsError).code);

/** The call must fail with a typed error carrying a stable code. */
function expectTyped(label: string, o: Outcome): void {
  assert.not.ok(o.ok, `${label} errors`);
  assert.ok(isTyped(o), `${label}: typed error with a code, got ${codeOf(o)}`);
}

/** Public methods of `obj`, found on its prototype chain (own names, no symbols, no getters). */
function methodsOf(obj: object): string[] {
  const names = new Set<string>();
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, n)!;
      // A trailing underscore marks a private method (TS `private` is still on the prototype).
      if (n !== 'constructor' && !n.endsWith('_') && typeof d.value === 'function') names.add(n);
    }
  }
  return [...names];
}

// --- fixtures

const serverCtx = () => {
  const c = new TLSServerContext();
  c.load_certs(pki().server.cert, pki().server.key);
  return c;
};

async function echoServer() {
  const server = createTlsServer({ cert: pki().server.cert, key: pki().server.key }, (engine) => {
    engine.ondata = (c) => engine.write(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A connected, handshaken engine (the JS transport; a native server). */
function liveEngine(port: number): Promise<TlsEngine> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const e = connectTls({ transport: 'js', host: 'localhost', port, ca: pki().ca.cert });
      e.onsecure = () => resolve(e);
      e.onerror = reject;
    }),
    10_000,
    'engine handshake',
  );
}

interface ClassCase {
  name: string;
  make(): unknown | Promise<unknown>;
  /** free() or close(); resolves once the object is dead. */
  kill(obj: never): unknown | Promise<unknown>;
  /** Valid arguments per method; methods not listed are called with none. */
  valid: Record<string, () => unknown[]>;
  /** Methods documented to keep answering after kill (no error), with why. */
  afterKill: Record<string, string>;
  /** The code a dead object answers with (default ERR_TLS_CLOSED). */
  deadCode?: Record<string, string>;
}

let server: Awaited<ReturnType<typeof echoServer>>;
const clientContext = new TLSClientContext();
clientContext.set_verify_locations(pki().ca.cert);

const socketValid: Record<string, () => unknown[]> = {
  connect: () => ['127.0.0.1', 1],
  bind: () => [0, '127.0.0.1'],
  listen: () => [8],
  send: () => ['x'],
  receive: () => [16],
  receive_bytes: () => [16],
  read: () => [16],
  read_bytes: () => [16],
  set_option: () => [SO_KEEPALIVE, true],
  get_option: () => [SO_KEEPALIVE],
  set_blocking: () => [true],
};
/** A real saved session (DER), from a memory handshake. */
let saved: Buffer | undefined;
function savedSession(): Buffer {
  if (!saved) {
    const c = side(memClientContext(), false);
    const srv = side(memServerContext(), true);
    pump(c, srv);
    saved = c.session.getSession()!;
    c.session.free();
    srv.session.free();
  }
  return saved;
}

const socketAfterClose = {
  close: 'idempotent: returns false the second time',
  pending: 'an inspector: 0 bytes buffered',
  info: 'an inspector: {} once closed',
  toString: 'printable in every state',
};
const bioValid: Record<string, () => unknown[]> = {
  set_ssl: () => [new SSL(clientContext), BIO_NOCLOSE],
  set_conn_hostname: () => ['localhost'],
  set_accept_name: () => ['127.0.0.1:0'],
  set_conn_address: () => ['127.0.0.1'],
  set_conn_port: () => [443],
  set_accept_port: () => [0],
  set_conn_family: () => [AF_INET],
  set_accept_family: () => [AF_INET],
  set_fd: () => [0, BIO_NOCLOSE],
  set_non_blocking: () => [true],
  push: () => [new BIO(BIO_s_connect)],
  write: () => ['x'],
  read: () => [16],
  read_bytes: () => [16],
  error: () => [0],
  error_string: () => [0],
};
const contextValid: Record<string, () => unknown[]> = {
  set_verify: () => [0],
  set_verify_locations: () => [pki().ca.cert],
  load_certs: () => [pki().server.cert, pki().server.key],
  set_ciphers: () => ['ECDHE+AESGCM'],
  set_protocol_versions: () => [0x0303, 0],
  set_alpn_protocols: () => [['h2', 'http/1.1']],
  set_servername_context: () => ['example.test', serverCtx()],
  set_servername_callback: () => [() => undefined],
  set_keylog_callback: () => [() => undefined],
  set_ticket_keys: () => [generateTicketKeys()],
  set_session_options: () => [{ tickets: true }],
};

const classes: ClassCase[] = [
  { name: 'SSLContext', make: () => new SSLContext(TLS_server_method), kill: (c: SSLContext) => c.free(), valid: contextValid, afterKill: {} },
  { name: 'TLSServerContext', make: serverCtx, kill: (c: SSLContext) => c.free(), valid: contextValid, afterKill: {} },
  {
    name: 'SSL',
    make: () => new SSL(clientContext),
    kill: (s: SSL) => s.free(),
    valid: {
      set_fd: () => [0],
      set_host: () => ['localhost'],
      write: () => ['x'],
      read: () => [16],
      read_bytes: () => [16],
      error: () => [0],
      set_session: () => [savedSession()],
      set_alpn_protocols: () => [['h2']],
    },
    afterKill: {},
  },
  ...([SSLBIO, ConnectBIO, AcceptedBIO] as const).map(
    (B): ClassCase => ({ name: B.name, make: () => new B(), kill: (b: BIO) => b.free(), valid: bioValid, afterKill: {} }),
  ),
  { name: 'Socket', make: () => new Socket(), kill: (s: Socket) => s.close(), valid: socketValid, afterKill: socketAfterClose },
  {
    name: 'TLSSocket',
    make: () => new TLSSocket(null, clientContext),
    kill: (s: TLSSocket) => s.close(),
    valid: {
      ...socketValid,
      set_session: () => [null],
      set_alpn_protocols: () => [['h2']],
      set_transport: () => ['js'],
      get_peer_certificate_chain: () => [false],
      export_keying_material: () => [32, 'EXPORTER-rxtls-test'],
    },
    afterKill: {
      ...socketAfterClose,
      get_session: 'documented: the last session stays available after close()',
      is_session_reused: 'a fact of the finished handshake',
      get_alpn_protocol: 'null once closed',
      get_peer_certificate_chain: '[] once closed',
      get_socket: 'the wrapped Socket (itself closed)',
      get_context: 'the SSLContext, still owned by the caller',
      get_transport: 'a fact of the socket, not of the connection',
      get_session_info: 'null once closed',
      get_peer_certificate: 'null once closed',
    },
  },
  {
    name: 'TlsEngine',
    make: () => liveEngine(server.port),
    kill: (e: TlsEngine) =>
      new Promise<void>((r) => {
        e.onclose = () => r();
        e.destroy();
      }),
    valid: {
      write: () => ['x'],
      writev: () => [['x', 'y']],
      peerCertificateChain: () => [false],
      exportKeyingMaterial: () => [32, 'EXPORTER-rxtls-test'],
    },
    afterKill: {
      end: 'idempotent: a no-op once closed',
      destroy: 'idempotent',
      feed: 'input after close is dropped (the socket may still deliver a last chunk)',
      pause: 'socket flow control, harmless on a closed socket',
      resume: 'socket flow control, harmless on a closed socket',
    },
    // A closed engine refuses writes with ClosedError: the connection is gone, nobody called end().
  },
];

// --- after free()/close()

const AfterKill = suite('every method after free()/close()');

AfterKill.before(async () => {
  server = await echoServer();
});
AfterKill.after(async () => {
  await server.close();
});

for (const c of classes) {
  AfterKill(`${c.name}: every public method after ${c.name.includes('Context') || c.name.includes('BIO') || c.name === 'SSL' ? 'free()' : 'close()'}`, async () => {
    const obj = (await c.make()) as Record<string, (...a: unknown[]) => unknown>;
    await c.kill(obj as never);
    const table: string[] = [];
    for (const m of methodsOf(obj)) {
      const args = c.valid[m]?.() ?? [];
      const o = await outcome(() => obj[m]!(...args));
      table.push(`${m}: ${codeOf(o)}`);
      if (m in c.afterKill) {
        assert.ok(o.ok, `${c.name}.${m}() keeps answering after close (${c.afterKill[m]}); got ${codeOf(o)}`);
        continue;
      }
      assert.ok(isTyped(o), `${c.name}.${m}() after close: a typed error, got ${codeOf(o)}`);
      assert.is(codeOf(o), c.deadCode?.[m] ?? ErrorCode.Closed, `${c.name}.${m}() after close`);
    }
    console.log(`  ${c.name}: ${table.join(', ')}`);
  });
}

// --- wrong types

const WrongTypes = suite('every method with wrong argument types');

WrongTypes.before(async () => {
  server = await echoServer();
});
WrongTypes.after(async () => {
  await server.close();
});

for (const c of classes) {
  WrongTypes(`${c.name}: each method that takes arguments, given wrong types`, async () => {
    const table: string[] = [];
    for (const m of Object.keys(c.valid)) {
      // A fresh object each time: a call must not depend on what an earlier one did.
      const obj = (await c.make()) as Record<string, (...a: unknown[]) => unknown>;
      if (typeof obj[m] !== 'function') continue; // the class lacks it (BIO subclasses share one table)
      const arity = c.valid[m]!().length;
      for (const wrong of [WRONG, Number.NaN]) {
        const o = await outcome(() => obj[m]!(...Array.from({ length: arity }, () => wrong)));
        assert.ok(isTyped(o), `${c.name}.${m}(${String(wrong)}…): a typed error, got ${codeOf(o)}`);
        // The argument is checked, or the object's state refuses the call first.
        assert.ok([ErrorCode.InvalidArgument, ErrorCode.State].includes(codeOf(o) as never), `${c.name}.${m}: ${codeOf(o)}`);
        if (wrong === WRONG) table.push(`${m}: ${codeOf(o)}`);
      }
      await outcome(() => c.kill(obj as never));
    }
    console.log(`  ${c.name}: ${table.join(', ')}`);
  });
}

WrongTypes('constructors and factories refuse wrong types', async () => {
  const ctors: [string, () => unknown][] = [
    ['new SSLContext(x)', () => new SSLContext(WRONG as never)],
    ['new SSL(x)', () => new SSL(WRONG as never)],
    ['new BIO(x)', () => new BIO(WRONG as never)],
    ['new Socket(x)', () => new Socket(WRONG as never)],
    ['new TLSSocket(x)', () => new TLSSocket(WRONG as never)],
    ['new TLSSocket(null, x)', () => new TLSSocket(null, WRONG as never)],
    ['new TlsEngine(socket, x, options)', () => new TlsEngine(new NetSocket(), WRONG as never, { isServer: true })],
    ['connectTls({})', () => connectTls({} as never)],
    ['connectTls({ host, port: -1 })', () => connectTls({ host: 'localhost', port: -1 })],
    ['createTlsServer({}, f)', () => createTlsServer({}, () => undefined)],
  ];
  for (const [label, fn] of ctors) {
    const o = await outcome(fn);
    assert.ok(isTyped(o), `${label}: a typed error, got ${codeOf(o)}`);
    assert.is(codeOf(o), ErrorCode.InvalidArgument, label);
  }
  // Something that is not a socket at all.
  expectTyped('new TlsEngine(not a socket, …)', await outcome(() => new TlsEngine(WRONG as never, WRONG as never, WRONG as never)));
});

WrongTypes('certificate and key helpers refuse wrong types', async () => {
  const typed: [string, () => unknown][] = [
    ['parseCertificate(x)', () => parseCertificate(WRONG as never)],
    ['parseCertificate(garbage)', () => parseCertificate(Buffer.from('not a certificate'))],
    ['createSelfSignedCertificate({ keyType: x })', () => createSelfSignedCertificate({ keyType: WRONG as never })],
    ['createCertificateAuthority({ rsaBits: x })', () => createCertificateAuthority({ rsaBits: WRONG as never })],
    ['generateTicketKeys(x)', () => generateTicketKeys(WRONG as never)],
    ['encodeAlpn(x)', () => encodeAlpn(WRONG as never)],
  ];
  for (const [label, fn] of typed) assert.is(codeOf(await outcome(fn)), ErrorCode.InvalidArgument, label);
  // A CA that is not a certificate and key must not silently yield a self-signed certificate.
  for (const [label, fn] of [
    ['issueCertificate(not a CA)', () => issueCertificate(WRONG as never)],
    ['issueCertificate({})', () => issueCertificate({} as never)],
  ] as [string, () => unknown][]) {
    const o = await outcome(fn);
    expectTyped(label, o);
  }
});

// --- out of order

const OutOfOrder = suite('calls out of order');

OutOfOrder.before(async () => {
  server = await echoServer();
});
OutOfOrder.after(async () => {
  await server.close();
});

OutOfOrder('read before connect, accept on a client, handshake roles crossed: StateError', async () => {
  const cases: [string, () => unknown][] = [
    ['Socket.receive() before connect', () => new Socket().receive(1)],
    ['Socket.send() before connect', () => new Socket().send('x')],
    ['Socket.accept() before listen', () => new Socket().accept()],
    ['Socket.listen() before bind', () => new Socket().listen()],
    ['TLSSocket.receive() before connect', () => new TLSSocket(null, clientContext).receive(1)],
    ['TLSSocket.send() before connect', () => new TLSSocket(null, clientContext).send('x')],
    ['TLSSocket.accept() before listen', () => new TLSSocket(null, clientContext).accept()],
    ['SSL.read() before set_fd', () => new SSL(clientContext).read()],
    ['SSL.connect() before set_fd', () => new SSL(clientContext).connect()],
    ['SSL.accept() on a client context', () => new SSL(clientContext).set_accept_state()],
    ['SSL.set_connect_state() on a server context', () => new SSL(serverCtx()).set_connect_state()],
    ['ConnectBIO.do_accept()', () => new ConnectBIO().do_accept()],
    ['AcceptedBIO.do_connect()', () => new AcceptedBIO().do_connect()],
    ['ConnectBIO.get_accept_port()', () => new ConnectBIO().get_accept_port()],
    ['SSLBIO.read() without an SSL', () => new SSLBIO().read()],
  ];
  const table: string[] = [];
  for (const [label, fn] of cases) {
    const o = await outcome(fn);
    table.push(`${label}: ${codeOf(o)}`);
    assert.ok(isTyped(o), `${label}: a typed error, got ${codeOf(o)}`);
    assert.is(codeOf(o), ErrorCode.State, label);
  }
  console.log(`  ${table.join('\n  ')}`);
});

OutOfOrder('accept() on a connected client TLSSocket, listen() on it: StateError', async () => {
  const sock = new TLSSocket(null, clientContext);
  await sock.connect('localhost', server.port);
  try {
    for (const [label, fn] of [
      ['accept() on a client', () => sock.accept()],
      ['listen() on a client', () => sock.listen()],
      ['bind() after connect', () => sock.bind(0)],
    ] as [string, () => unknown][]) {
      const o = await outcome(fn);
      assert.ok(isTyped(o), `${label}: a typed error, got ${codeOf(o)}`);
      assert.is(codeOf(o), ErrorCode.State, label);
    }
  } finally {
    sock.close();
  }
});

OutOfOrder('a BIO chain with a cycle, a BIO pushed twice, freeing a BIO twice', async () => {
  const a = new SSLBIO();
  const b = new ConnectBIO();
  a.push(b);
  const cycle = await outcome(() => b.push(a));
  assert.ok(isTyped(cycle), `cycle: a typed error, got ${codeOf(cycle)}`);
  const self = await outcome(() => a.push(a));
  assert.ok(isTyped(self), `self: a typed error, got ${codeOf(self)}`);
  a.free_all();
  assert.is(codeOf(await outcome(() => a.free())), ErrorCode.Closed);
});

OutOfOrder('TlsEngine.feed() with wrong types fails that connection with InvalidArgument (through onerror)', async () => {
  const e = await liveEngine(server.port);
  const closed = new Promise<TlsError | undefined>((r) => (e.onclose = r));
  e.onerror = () => undefined;
  e.feed(WRONG as never, 1);
  const err = await withTimeout(closed, 5_000, 'engine closes');
  assert.is(err?.code, ErrorCode.InvalidArgument);
});

OutOfOrder('TlsEngine: write after end(), info() after close', async () => {
  const e = await liveEngine(server.port);
  e.end();
  assert.is(codeOf(await outcome(() => e.write('late'))), ErrorCode.State);
  await new Promise<void>((r) => (e.closed ? r() : (e.onclose = () => r())));
  assert.is(codeOf(await outcome(() => e.info())), ErrorCode.Closed);
  assert.is(codeOf(await outcome(() => e.peerCertificate())), ErrorCode.Closed);
});

// --- rx

const Rx = suite('rx misuse');

/** Subscribes and resolves with how the Observable ended (bounded). */
function ending(obs: Observable<unknown>): Promise<Outcome> {
  return outcome(
    () =>
      new Promise((resolve, reject) => {
        obs.subscribe({ error: reject, complete: () => resolve('completed') });
      }),
  );
}

Rx('listen and connect with wrong options error with InvalidArgument, through the subscriber', async () => {
  for (const [label, obs] of [
    ['listen({ port: -1 })', rxListen({ port: -1, cert: pki().server.cert, key: pki().server.key })],
    ['listen({}) without cert', rxListen({})],
    ['connect({ port: 70000 })', rxConnect({ port: 70_000 })],
    ['connect(wrong)', rxConnect(WRONG as never)],
  ] as [string, Observable<unknown>][]) {
    const o = await ending(obs);
    assert.ok(isTyped(o), `${label}: a typed error, got ${codeOf(o)}`);
    assert.is(codeOf(o), ErrorCode.InvalidArgument, label);
  }
});

Rx('read and write on a closed connection, a second reader and a second writer', async () => {
  let port = 0;
  const sub = rxListen({ cert: pki().server.cert, key: pki().server.key, onListening: (a) => (port = a.port) }).subscribe((c) => {
    rxRead(c).pipe().subscribe({ error: () => undefined });
  });
  try {
    await withTimeout((async () => { while (port === 0) await new Promise((r) => setTimeout(r, 5)); })(), 10_000, 'listening');
    const conn: TlsConnection = await firstValueFrom(rxConnect({ port, ca: pki().ca.cert }));
    const reader = rxRead(conn).subscribe({ error: () => undefined });
    const second = await ending(rxRead(conn));
    assert.is(codeOf(second), ErrorCode.State, 'a second reader');
    const w1 = of('a').pipe(rxWrite(conn)).subscribe({ error: () => undefined });
    const w2 = await ending(of('b').pipe(rxWrite(conn)));
    assert.is(codeOf(w2), ErrorCode.State, 'a second writer');
    // A chunk of the wrong type, on a connection of its own (first writer).
    const other: TlsConnection = await firstValueFrom(rxConnect({ port, ca: pki().ca.cert }));
    const badChunk = await ending(of(WRONG as unknown as string).pipe(rxWrite(other)));
    assert.is(codeOf(badChunk), ErrorCode.InvalidArgument, 'a wrong-type chunk');
    other.destroy();
    reader.unsubscribe();
    w1.unsubscribe();
    conn.destroy();
    conn.close(); // idempotent
    const afterRead = await ending(rxRead(conn));
    const afterWrite = await ending(of('late').pipe(rxWrite(conn)));
    for (const [label, o] of [['read after close', afterRead], ['write after close', afterWrite]] as const)
      assert.ok(o.ok || isTyped(o), `${label}: completes or a typed error, got ${codeOf(o)}`);
  } finally {
    sub.unsubscribe();
  }
});

Rx('read(x) and write(x) on something that is not a connection', async () => {
  const r = await ending(rxRead(WRONG as never));
  const w = await ending(of('x').pipe(rxWrite(WRONG as never)));
  expectTyped('rx read(not a connection)', r);
  expectTyped('rx write(not a connection)', w);
});

// --- native objects

/** Native methods that answer after free(): facts kept outside the OpenSSL object. */
const NATIVE_INSPECTORS: Record<string, string> = {
  kind: 'the BIO kind, kept by the wrapper',
};

const Native = suite('native objects');

Native('every native method: wrong types, and after free(): typed errors, no crash', async () => {
  const { binding } = { binding: nativeBinding };
  const make: [string, () => { free(): void } & Record<string, unknown>][] = [
    ['Context', () => new binding.Context(binding.methods.TLS_method) as never],
    ['Session', () => new binding.Session(new binding.Context(binding.methods.TLS_client_method), false, [undefined, undefined, undefined]) as never],
  ];
  const b = binding as unknown as Record<string, unknown>;
  if (typeof b.FdSsl === 'function') make.push(['FdSsl', () => new (b.FdSsl as new (c: unknown) => never)(new binding.Context(binding.methods.TLS_client_method))]);
  const bioMethods = b.bioMethods as Record<string, bigint> | undefined;
  if (typeof b.Bio === 'function' && bioMethods)
    for (const [k, v] of Object.entries(bioMethods)) make.push([`Bio(${k})`, () => new (b.Bio as new (m: bigint) => never)(v)]);
  const table: string[] = [];
  for (const [name, mk] of make) {
    const live = mk();
    for (const m of methodsOf(live)) {
      if (m === 'free') continue;
      for (const wrong of [WRONG, {}, Number.NaN, -1]) {
        const o = await outcome(() => (live[m] as (...a: unknown[]) => unknown)(wrong, wrong, wrong));
        // Some methods take no arguments and ignore these; what throws must be typed.
        if (!o.ok) assert.ok(isTyped(o), `${name}.${m}(${String(wrong)}): a typed error, got ${codeOf(o)}`);
      }
    }
    const dead = mk();
    dead.free();
    for (const m of methodsOf(dead)) {
      const o = await outcome(() => (dead[m] as () => unknown)());
      table.push(`${name}.${m}: ${codeOf(o)}`);
      if (m === 'isFreed') {
        assert.ok(o.ok && o.value === true);
        continue;
      }
      if (m in NATIVE_INSPECTORS) {
        assert.ok(o.ok, `${name}.${m}() answers after free() (${NATIVE_INSPECTORS[m]})`);
        continue;
      }
      // Called with no arguments: a method that checks its arguments before its state says so.
      assert.ok([ErrorCode.Closed, ErrorCode.InvalidArgument].includes(codeOf(o) as never), `${name}.${m}() after free(): ${codeOf(o)}`);
    }
  }
  console.log(`  ${table.join(', ')}`);
});

Native('the process survived: nothing escaped as an uncaught exception or unhandled rejection', async () => {
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(escaped.map(String), []);
});

AfterKill.run();
WrongTypes.run();
OutOfOrder.run();
Rx.run();
Native.run();
