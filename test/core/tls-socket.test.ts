// TLSSocket: every documented member against real peers (openssl s_server
// -www, openssl s_client, node:tls, rxtls itself) over 127.0.0.1.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { inspect } from 'node:util';

import * as core from '@rxtls/core';
import {
  AF_INET,
  CertificateError,
  ClosedError,
  HandshakeError,
  IPPROTO_TCP,
  InvalidArgumentError,
  SHUT_WR,
  SOCK_STREAM,
  SO_KEEPALIVE,
  SO_RCVTIMEO,
  SO_SNDTIMEO,
  SSLContext,
  Socket,
  SocketError,
  StateError,
  TCP_NODELAY,
  TLSClientContext,
  TLSContext,
  TLSServerContext,
  TLSSocket,
  TLS_SOCKET_HIGH_WATER_MARK,
  TimeoutError,
  TruncationError,
  type TlsError,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { assertAllClosed } from '../helpers/assert.js';
import { freePort, sleep, withTimeout } from '../helpers/net.js';
import { runSClient, startSServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { TLS_SOCKET_TRANSPORT, tlsSocket } from '../helpers/tls-socket.js';

const P = pki();
const is = (Class: new (...a: never[]) => unknown, code?: string) => (e: unknown) =>
  e instanceof Class && (code === undefined || (e as TlsError).code === code);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function serverCtx(): SSLContext {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  return ctx;
}

function clientCtx(): SSLContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(P.file('ca', 'crt'));
  return ctx;
}

async function rxServer(ctx: SSLContext = serverCtx()): Promise<TLSSocket> {
  const server = tlsSocket(new Socket(), ctx);
  await server.bind(0, '127.0.0.1');
  await server.listen();
  return server;
}

/** A connected rxtls client and the server's accepted peer. */
async function rxPair() {
  const server = await rxServer();
  const accepted = server.accept();
  const client = tlsSocket(new Socket(), clientCtx());
  await withTimeout(client.connect('localhost', server.port), 10_000, 'connect');
  const peer = await withTimeout(accepted, 10_000, 'accept');
  return {
    server,
    client,
    peer,
    close() {
      client.close();
      peer.close();
      server.close();
    },
  };
}

/** A node:tls server on 127.0.0.1. */
async function nodeServer(onConnection: (s: tls.TLSSocket) => void, options: tls.TlsOptions = {}) {
  const conns: tls.TLSSocket[] = [];
  const server = tls.createServer({ cert: P.server.cert, key: P.server.key, ...options }, (s) => {
    conns.push(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const c of conns) c.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---------------------------------------------------------------------------
const Props = suite(`TLSSocket: the documented properties through its life [${TLS_SOCKET_TRANSPORT}]`);

Props('a new socket: defaults, get_socket, get_context, printable', () => {
  const s = tlsSocket();
  assert.is(s.host, 'localhost');
  assert.is(s.port, 0);
  assert.is(s.family, AF_INET);
  assert.is(s.type, SOCK_STREAM);
  assert.is(s.protocol, IPPROTO_TCP);
  assert.is(s.id, -1);
  assert.equal(
    [s.is_client, s.is_bound, s.is_connected, s.is_listening, s.is_closed, s.is_shutdown, s.is_blocking],
    [false, false, false, false, false, false, true],
  );
  assert.is(s.shutdown_reason, -1);
  assert.is(s.send_timeout, 0);
  assert.is(s.receive_timeout, 0);
  assert.instance(s.get_socket(), Socket);
  assert.instance(s.get_context(), TLSContext);
  assert.equal(s.info(), {});
  assert.is(String(s), '<TLSSocket closed: false, listening: false, connected: false, bound: false>');
  assert.is(inspect(s), String(s));
  const sock = new Socket();
  const ctx = new TLSClientContext();
  const t = tlsSocket(sock, ctx);
  assert.is(t.get_socket(), sock);
  assert.is(t.get_context(), ctx);
});

Props('an ssl argument gives its context', () => {
  const ctx = serverCtx();
  const SSLClass = (core as unknown as { SSL?: new (c: SSLContext) => { context: SSLContext } }).SSL;
  const ssl = SSLClass ? new SSLClass(ctx) : { context: ctx };
  const t = tlsSocket(new Socket(), new TLSClientContext(), ssl);
  assert.is(t.get_context(), ctx);
  assert.throws(() => tlsSocket({} as never), is(InvalidArgumentError));
  assert.throws(() => tlsSocket(new Socket(), {} as never), is(InvalidArgumentError));
  assert.throws(() => tlsSocket(new Socket(), ctx, {} as never), is(InvalidArgumentError));
});

Props('server, client and accepted peer: every flag true to the state at each step', async () => {
  const server = tlsSocket(new Socket(), serverCtx());
  assert.is(await server.bind(0, '127.0.0.1'), true);
  assert.ok(server.port > 0, 'port is the real port after bind(0)');
  assert.is((server.info() as { port: number }).port, server.port);
  assert.equal([server.is_bound, server.is_listening, server.is_connected, server.is_client], [true, false, false, false]);
  assert.is(await server.listen(), true);
  assert.is(String(server), '<TLSSocket closed: false, listening: true, connected: false, bound: true>');
  assert.is(server.id, server.get_socket().id);

  const accepted = server.accept();
  const client = tlsSocket(new Socket(), clientCtx());
  const connecting = client.connect('localhost', server.port);
  assert.is(client.is_connected, false);
  assert.is(await connecting, true);
  assert.equal([client.is_client, client.is_connected, client.is_bound, client.is_listening, client.is_closed], [true, true, false, false, false]);
  assert.is(client.host, 'localhost');
  assert.is(client.port, server.port);
  assert.ok(client.id > 2);
  assert.is(String(client), '<TLSSocket closed: false, listening: false, connected: true, bound: false>');
  const peer = await accepted;
  assert.equal([peer.is_client, peer.is_connected, peer.is_listening], [false, true, false]);
  assert.is(peer.host, '127.0.0.1');
  assert.is(peer.get_context(), server.get_context());
  assert.is(client.get_session_info()!.verifyResult, 0);
  assert.is(client.get_peer_certificate()!.subject.CN, 'localhost');

  assert.is(await client.shutdown(), true);
  assert.equal([client.is_shutdown, client.shutdown_reason], [true, SHUT_WR]);
  assert.is(await peer.receive(), '');
  // The peer may still send after the client's close_notify, until it shuts down itself.
  assert.is(peer.is_connected, true);
  assert.is(await peer.shutdown(), true);
  assert.is(await client.receive(), '');
  assert.is(client.close(), true);
  assert.is(client.close(), false);
  assert.equal([client.is_closed, client.is_connected, client.is_client], [true, false, false]);
  assert.is(String(client), '<TLSSocket closed: true, listening: false, connected: false, bound: false>');
  peer.close();
  server.close();
  assert.equal([server.is_closed, server.is_listening, server.is_bound], [true, false, false]);
});

Props.run();

// ---------------------------------------------------------------------------
const Peers = suite(`TLSSocket: real peers [${TLS_SOCKET_TRANSPORT}]`);

Peers('fetches a page from openssl s_server -www (default verification, CA from set_verify_locations)', async () => {
  const s = await startSServer(['-cert', P.file('server', 'crt'), '-key', P.file('server', 'key'), '-www']);
  try {
    const client = tlsSocket(new Socket(), clientCtx());
    assert.ok(await client.connect('localhost', s.port));
    assert.is(await client.send('GET / HTTP/1.0\r\n\r\n'), 18);
    const page = await client.read(-1);
    assert.match(page, /^HTTP\/1\.0 200 ok/);
    assert.is(await client.receive(), '', 'clean close_notify: receive gives ""');
    client.close();
  } finally {
    await s.stop();
  }
});

Peers('a default client refuses a self-signed openssl s_server, with the reason', async () => {
  const s = await startSServer(['-cert', P.file('selfSigned', 'crt'), '-key', P.file('selfSigned', 'key'), '-www']);
  try {
    const client = tlsSocket();
    const err = await client.connect('localhost', s.port).catch((e: TlsError) => e);
    assert.ok(is(CertificateError, 'ERR_TLS_CERT_VERIFY')(err));
    assert.is((err as CertificateError).verifyMessage, 'self-signed certificate');
    assert.ok(client.is_closed);
  } finally {
    await s.stop();
  }
});

Peers('openssl s_client talks to accept()', async () => {
  const server = await rxServer();
  try {
    const served = (async () => {
      const peer = await server.accept();
      await peer.send('hello from rxtls\n');
      const line = await peer.read(5);
      peer.close();
      return line;
    })();
    const r = await runSClient(server.port, ['-CAfile', P.file('ca', 'crt'), '-servername', 'localhost', '-verify_return_error', '-ign_eof'], 'ping\n');
    assert.is(await withTimeout(served, 10_000, 'served'), 'ping\n');
    assert.match(r.stdout, 'hello from rxtls');
    assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
  } finally {
    server.close();
  }
});

Peers('node:tls server and client interoperate', async () => {
  const echo = await nodeServer((s) => s.pipe(s));
  try {
    const client = tlsSocket(new Socket(), clientCtx());
    await client.connect('localhost', echo.port);
    await client.send('echo me');
    assert.is(await client.read(7), 'echo me');
    client.close();
  } finally {
    await echo.close();
  }
  const server = await rxServer();
  try {
    const accepted = server.accept();
    const nodeClient = tls.connect({ host: '127.0.0.1', port: server.port, ca: P.ca.cert, servername: 'localhost' });
    nodeClient.on('error', () => {});
    const peer = await accepted;
    nodeClient.write('from node');
    assert.is(await peer.read(9), 'from node');
    await peer.send('to node');
    const got = await new Promise<string>((r) => nodeClient.once('data', (d) => r(d.toString())));
    assert.is(got, 'to node');
    nodeClient.destroy();
    peer.close();
  } finally {
    server.close();
  }
});

Peers('rxtls to rxtls: 1 MB of random bytes round-trips bit-exact through receive_bytes/read_bytes', async () => {
  const { client, peer, close } = await rxPair();
  try {
    const payload = randomBytes(1_000_000);
    const sent = client.send(payload);
    const echoed = (async () => {
      const got = await peer.read_bytes(payload.length);
      await peer.send(got);
    })();
    assert.is(await sent, payload.length);
    await echoed;
    const first = await client.receive_bytes(10);
    const rest = await client.read_bytes(payload.length - 10);
    assert.ok(Buffer.concat([first, rest]).equals(payload));
  } finally {
    close();
  }
});

Peers('send(file) streams an open file from disk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-tls-send-'));
  const file = join(dir, 'payload.bin');
  const content = randomBytes(2_500_000);
  writeFileSync(file, content);
  let resolveHash: (h: string) => void;
  const hashed = new Promise<string>((r) => (resolveHash = r));
  const sink = await nodeServer((s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => resolveHash(h.digest('hex')));
  });
  try {
    const client = tlsSocket(new Socket(), clientCtx());
    await client.connect('localhost', sink.port);
    const fh = await open(file);
    assert.is(await client.send(fh), content.length);
    await fh.close();
    await client.shutdown();
    assert.is(await withTimeout(hashed, 10_000, 'hash'), sha256(content));
    client.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sink.close();
  }
});

Peers('TLS over an already connected Socket (STARTTLS): connect() runs only the handshake', async () => {
  const secureContext = tls.createSecureContext({ cert: P.server.cert, key: P.server.key });
  const plain = net.createServer((raw) => {
    raw.on('error', () => {});
    raw.write('READY\n');
    raw.once('data', (d) => {
      if (d.toString() !== 'STARTTLS\n') {
        raw.destroy();
        return;
      }
      raw.write('GO\n');
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
      secure.on('error', () => {});
      secure.pipe(secure);
    });
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const port = (plain.address() as net.AddressInfo).port;
  try {
    const sock = new Socket();
    await sock.connect('127.0.0.1', port);
    assert.is(await sock.receive(), 'READY\n');
    await sock.send('STARTTLS\n');
    assert.is(await sock.receive(), 'GO\n');
    const secure = tlsSocket(sock, clientCtx());
    assert.ok(await secure.connect('localhost', port));
    assert.ok(is(StateError)(await sock.receive().catch((e) => e)), 'the plain socket is now TLS-owned');
    await secure.send('inside TLS');
    assert.is(await secure.read(10), 'inside TLS');
    secure.close();
  } finally {
    await new Promise<void>((r) => plain.close(() => r()));
  }
});

Peers.run();

// ---------------------------------------------------------------------------
const Reads = suite(`TLSSocket: receive, read, clean close and truncation [${TLS_SOCKET_TRANSPORT}]`);

Reads('receive() gives what is there, receive(n) waits for n, read() reads 1024 by default, UTF-8 stays whole', async () => {
  const { client, peer, close } = await rxPair();
  try {
    await peer.send('héllo');
    assert.is(await client.receive(), 'héllo');
    const four = client.receive(4);
    await peer.send('ab');
    await sleep(20);
    await peer.send('cd');
    assert.is(await four, 'abcd');
    await peer.send('y'.repeat(2000));
    assert.is((await client.read()).length, 1024);
    assert.is((await client.read(976)).length, 976);
    const euro = Buffer.from('€');
    await peer.send(euro.subarray(0, 2));
    const r = client.receive();
    await sleep(20);
    await peer.send(euro.subarray(2));
    assert.is(await r, '€');
  } finally {
    close();
  }
});

Reads('after close_notify reads drain and then give ""; after a cut connection they drain and reject with TruncationError', async () => {
  const clean = await rxPair();
  try {
    await clean.peer.send('last');
    clean.peer.close();
    assert.is(await clean.client.read(-1), 'last');
    assert.is(await clean.client.receive(), '');
    assert.is((await clean.client.receive_bytes()).length, 0);
  } finally {
    clean.close();
  }
  const cut = await rxPair();
  try {
    await cut.peer.send('partial');
    cut.peer.get_socket().close(); // TCP close, no close_notify
    assert.is(await cut.client.receive(), 'partial');
    const err = await cut.client.receive().catch((e: TlsError) => e);
    assert.ok(is(TruncationError, 'ERR_TLS_TRUNCATED')(err));
  } finally {
    cut.close();
  }
});

Reads('a killed openssl s_server is a truncation, not a clean end', async () => {
  const s = await startSServer(['-cert', P.file('server', 'crt'), '-key', P.file('server', 'key')]);
  try {
    const client = tlsSocket(new Socket(), clientCtx());
    await client.connect('localhost', s.port);
    const reading = client.read(-1).catch((e: TlsError) => e);
    // Kill it only once it has read our whole handshake: a process killed
    // with unread bytes makes the kernel send RST (ECONNRESET), not FIN.
    for (let i = 0; i < 500 && !/CIPHER is/.test(s.output()); i++) await sleep(10);
    s.proc.kill('SIGKILL');
    const err = await withTimeout(reading, 10_000, 'read');
    assert.ok(is(TruncationError)(err), String(err));
    client.close();
  } finally {
    await s.stop();
  }
});

Reads('non-blocking receive answers at once with what is buffered', async () => {
  const { client, peer, close } = await rxPair();
  try {
    client.set_blocking(false);
    assert.is(client.is_blocking, false);
    assert.is(await client.receive(), '');
    await peer.send('buffered');
    for (let i = 0; i < 200 && client.pending() < 8; i++) await sleep(10);
    assert.is(await client.receive(), 'buffered');
    assert.is(await client.receive(), '');
  } finally {
    close();
  }
});

Reads('receive_timeout: TimeoutError, and the socket stays usable', async () => {
  const { client, peer, close } = await rxPair();
  try {
    client.receive_timeout = 50;
    assert.is(client.get_option(SO_RCVTIMEO), 50);
    assert.ok(is(TimeoutError, 'ERR_TLS_TIMEOUT')(await client.receive().catch((e) => e)));
    assert.ok(is(TimeoutError)(await client.read(10).catch((e) => e)));
    assert.ok(client.is_connected);
    client.receive_timeout = 0;
    await peer.send('still here');
    assert.is(await client.receive(), 'still here');
  } finally {
    close();
  }
});

Reads('buffered plaintext is bounded: a peer that does not read stops being read from, and gets everything later', async () => {
  const { client, peer, close } = await rxPair();
  try {
    const payload = randomBytes(4 * 1024 * 1024);
    const sending = client.send(payload);
    for (let i = 0; i < 1000 && peer.pending() < TLS_SOCKET_HIGH_WATER_MARK; i++) await sleep(10);
    assert.ok(peer.pending() >= TLS_SOCKET_HIGH_WATER_MARK);
    // Give the loop many chances to overfill it.
    for (let i = 0; i < 10; i++) await sleep(10);
    assert.ok(peer.pending() <= TLS_SOCKET_HIGH_WATER_MARK + 80 * 1024, `pending ${peer.pending()}`);
    const got = await withTimeout(peer.read_bytes(payload.length), 20_000, 'drain');
    assert.ok(got.equals(payload));
    assert.is(await sending, payload.length);
  } finally {
    close();
  }
});

Reads.run();

// ---------------------------------------------------------------------------
const Fail = suite(`TLSSocket: timeouts and failures [${TLS_SOCKET_TRANSPORT}]`);

Fail('send_timeout: a send that cannot drain rejects with TimeoutError and closes the socket', async () => {
  const { client, close } = await rxPair();
  try {
    client.send_timeout = 200;
    assert.is(client.get_option(SO_SNDTIMEO), 200);
    const err = await withTimeout(client.send(Buffer.alloc(32 * 1024 * 1024)).catch((e: TlsError) => e), 15_000, 'send');
    assert.ok(is(TimeoutError, 'ERR_TLS_TIMEOUT')(err));
    assert.ok(client.is_closed);
  } finally {
    close();
  }
});

Fail('connect: refused port, a server that never answers TLS (timeout)', async () => {
  const refused = tlsSocket();
  const err = await refused.connect('127.0.0.1', await freePort()).catch((e: TlsError) => e);
  assert.ok(is(SocketError)(err));
  assert.is((err as SocketError).syscallCode, 'ECONNREFUSED');
  assert.ok(refused.is_closed);

  const silent = net.createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const client = tlsSocket(new Socket(), clientCtx());
    const timeout = await client.connect('localhost', (silent.address() as net.AddressInfo).port, 200).catch((e: TlsError) => e);
    assert.ok(is(TimeoutError, 'ERR_TLS_TIMEOUT')(timeout));
    assert.ok(client.is_closed);
  } finally {
    silent.close();
  }
});

Fail('accept: a failed handshake rejects and the server keeps accepting; EAGAIN when non-blocking; receive_timeout', async () => {
  const server = await rxServer();
  try {
    const bad = server.accept().catch((e: TlsError) => e);
    const garbage = net.connect(server.port, '127.0.0.1');
    garbage.on('error', () => {});
    garbage.write('GET / HTTP/1.0\r\n\r\n');
    assert.ok(is(HandshakeError)(await withTimeout(bad, 10_000, 'bad accept')));
    garbage.destroy();
    assert.ok(server.is_listening);

    const good = server.accept();
    const client = tlsSocket(new Socket(), clientCtx());
    await client.connect('localhost', server.port);
    const peer = await good;
    assert.ok(peer.is_connected);
    client.close();
    peer.close();

    server.set_blocking(false);
    const eagain = await server.accept().catch((e: TlsError) => e);
    assert.ok(is(SocketError)(eagain));
    assert.is((eagain as SocketError).syscallCode, 'EAGAIN');
    server.set_blocking(true);
    server.receive_timeout = 30;
    assert.ok(is(TimeoutError)(await server.accept().catch((e) => e)));
  } finally {
    server.close();
  }
});

Fail('methods that need a connection say so', async () => {
  const s = tlsSocket();
  assert.ok(is(StateError)(await s.send('x').catch((e) => e)));
  assert.ok(is(StateError)(await s.receive().catch((e) => e)));
  assert.ok(is(StateError)(await s.read().catch((e) => e)));
  assert.ok(is(StateError)(await s.shutdown().catch((e) => e)));
  assert.ok(is(StateError)(await s.accept().catch((e) => e)));
  assert.ok(is(InvalidArgumentError)(await s.send(1 as never).catch((e) => e)));
  assert.ok(is(InvalidArgumentError)(await s.connect('localhost', -1).catch((e) => e)));
  s.close();
});

Fail.run();

// ---------------------------------------------------------------------------
const End = suite(`TLSSocket: shutdown, close, options, info [${TLS_SOCKET_TRANSPORT}]`);

End('shutdown() sends close_notify; the peer may still send (TLS half-close) until its own close_notify', async () => {
  const server = await nodeServer(
    (s) => {
      s.on('end', () => s.end('after your close_notify'));
      s.resume();
    },
    { allowHalfOpen: true },
  );
  try {
    const client = tlsSocket(new Socket(), clientCtx());
    await client.connect('localhost', server.port);
    await client.shutdown();
    assert.ok(client.is_shutdown);
    assert.ok(is(StateError)(await client.send('no more').catch((e) => e)));
    assert.is(await client.read(-1), 'after your close_notify');
    assert.is(await client.receive(), '');
    client.close();
  } finally {
    await server.close();
  }
});

End('close(): the peer sees a clean close; afterwards every method throws ClosedError', async () => {
  const { client, peer, close } = await rxPair();
  try {
    const waiting = client.receive().catch((e) => e);
    assert.is(client.close(), true);
    assert.ok(is(ClosedError, 'ERR_TLS_CLOSED')(await waiting));
    assert.is(await peer.receive(), '');
    const calls: Array<() => unknown> = [
      () => client.connect('localhost', 1),
      () => client.bind(0),
      () => client.listen(),
      () => client.accept(),
      () => client.send('x'),
      () => client.receive(),
      () => client.receive_bytes(),
      () => client.read(),
      () => client.read_bytes(),
      () => client.shutdown(),
      () => client.set_option(SO_KEEPALIVE, true),
      () => client.get_option(SO_KEEPALIVE),
      () => client.set_blocking(false),
    ];
    await assertAllClosed(calls);
    assert.instance(client.get_socket(), Socket);
    assert.instance(client.get_context(), SSLContext);
  } finally {
    close();
  }
});

End('set_option/get_option reach the socket; info() gives address, port and family', async () => {
  const { client, peer, close } = await rxPair();
  try {
    assert.is(client.set_option(TCP_NODELAY, true), true);
    assert.is(client.get_option(TCP_NODELAY), true);
    assert.is(client.get_socket().get_option(TCP_NODELAY), true);
    assert.is(client.set_option(SO_KEEPALIVE, true), true);
    assert.is(client.get_option(SO_KEEPALIVE), true);
    client.set_option(SO_RCVTIMEO, 1234);
    assert.is(client.receive_timeout, 1234);
    assert.throws(() => client.set_option(999, 1), is(InvalidArgumentError));
    const info = client.info() as { address: string; port: number; family: number };
    assert.equal([info.address, info.family], ['127.0.0.1', AF_INET]);
    assert.is((peer.info() as { port: number }).port, client.port);
    assert.is(info.port, peer.port);
  } finally {
    close();
  }
});

End.run();

// ---------------------------------------------------------------------------
const Example = suite('examples/blade-echo.ts');

Example('runs, echoes every line, and exits by itself', async () => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/blade-echo.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await withTimeout(new Promise<number | null>((r) => child.once('close', r)), 30_000, 'example').finally(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  assert.is(code, 0, out);
  assert.match(out, 'client: sent "hello", got back "hello"');
  assert.match(out, 'client: sent "ça va ?", got back "ça va ?"');
  assert.match(out, '<TLSSocket closed: true, listening: false, connected: false, bound: false>');
});

// The example runs on the default transport: once is enough.
if (TLS_SOCKET_TRANSPORT === 'native') Example.run();
