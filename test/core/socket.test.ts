// Socket: the plain TCP socket of the documented API, against node:net peers
// and itself over 127.0.0.1. Includes the guarantee SSL.set_fd relies on: a
// socket reads its descriptor only while a receive()/read() waits.
import { createHash, randomBytes } from 'node:crypto';
import { fstatSync, mkdtempSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

import {
  AF_INET,
  AF_INET6,
  ClosedError,
  IPPROTO_TCP,
  InvalidArgumentError,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_STREAM,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SO_RCVTIMEO,
  SO_REUSEADDR,
  SO_SNDBUF,
  SO_SNDTIMEO,
  Socket,
  SocketError,
  StateError,
  TCP_NODELAY,
  TimeoutError,
  type TlsError,
} from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { assertAllClosed } from '../helpers/assert.js';
import { freePort, sleep, withTimeout } from '../helpers/net.js';

const is = (Class: new (...a: never[]) => unknown, code?: string) => (e: unknown) =>
  e instanceof Class && (code === undefined || (e as TlsError).code === code);

/** A node:net server on 127.0.0.1; `conns` receives each connection. */
async function netServer(onConnection: (s: net.Socket) => void = () => {}) {
  const conns: net.Socket[] = [];
  const server = net.createServer((s) => {
    conns.push(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    conns,
    next: async () => {
      for (let i = 0; i < 500 && conns.length === 0; i++) await sleep(10);
      return conns.shift()!;
    },
    close: () => {
      for (const c of conns) c.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Reads the descriptor directly (non-blocking) until `n` bytes came, bounded. */
async function readFd(fd: number, n: number): Promise<Buffer> {
  const out: Buffer[] = [];
  let got = 0;
  const buf = Buffer.alloc(65536);
  for (let i = 0; i < 500 && got < n; i++) {
    try {
      const k = readSync(fd, buf, 0, buf.length, null);
      out.push(Buffer.from(buf.subarray(0, k)));
      got += k;
      if (k === 0) break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      await sleep(10);
    }
  }
  return Buffer.concat(out);
}

async function connected(port: number): Promise<Socket> {
  const s = new Socket();
  await s.connect('127.0.0.1', port);
  return s;
}

// ---------------------------------------------------------------------------
const Props = suite('Socket: properties through its life');

Props('defaults, then client, then closed', async () => {
  const s = new Socket();
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
  assert.equal(s.info(), {});
  assert.is(String(s), '<Socket closed: false, listening: false, connected: false, bound: false>');

  const srv = await netServer();
  try {
    assert.is(await s.connect('127.0.0.1', srv.port), true);
    assert.is(s.host, '127.0.0.1');
    assert.is(s.port, srv.port);
    assert.ok(s.id > 2);
    assert.ok(fstatSync(s.id).isSocket(), 'id is the OS descriptor');
    assert.equal([s.is_client, s.is_connected, s.is_bound, s.is_listening], [true, true, false, false]);
    const info = s.info() as { address: string; port: number; family: number };
    assert.is(info.address, '127.0.0.1');
    assert.is(info.family, AF_INET);
    assert.ok(info.port > 0 && info.port !== srv.port);
    assert.is(inspect(s), '<Socket closed: false, listening: false, connected: true, bound: false>');
    assert.is(s.close(), true);
    assert.is(s.close(), false);
    assert.equal([s.is_closed, s.is_connected, s.is_client], [true, false, false]);
    assert.is(String(s), '<Socket closed: true, listening: false, connected: false, bound: false>');
  } finally {
    await srv.close();
  }
});

Props('a server: bind(0) gives the real port, listen, accept', async () => {
  const server = new Socket();
  assert.is(await server.bind(0, '127.0.0.1'), true);
  assert.ok(server.port > 0);
  assert.is((server.info() as { port: number }).port, server.port);
  assert.equal([server.is_bound, server.is_listening, server.is_client], [true, false, false]);
  assert.ok(server.id > 2);
  assert.is(await server.listen(), true);
  assert.is(String(server), '<Socket closed: false, listening: true, connected: false, bound: true>');
  const client = new net.Socket();
  client.connect(server.port, '127.0.0.1');
  client.on('error', () => {});
  const peer = await withTimeout(server.accept(), 5000, 'accept');
  assert.equal([peer.is_connected, peer.is_client, peer.is_bound, peer.is_listening], [true, false, false, false]);
  assert.is(peer.host, '127.0.0.1');
  assert.is(peer.port, client.localPort);
  assert.ok(peer.id > 2 && peer.id !== server.id);
  client.write('hi');
  assert.is(await peer.read(2), 'hi');
  peer.close();
  client.destroy();
  server.close();
  assert.equal([server.is_listening, server.is_bound, server.is_closed], [false, false, true]);
});

Props('bind on a port in use fails with EADDRINUSE; listen before bind and accept before listen are state errors', async () => {
  const a = new Socket();
  await a.bind(0, '127.0.0.1');
  const b = new Socket();
  const err = await b.bind(a.port, '127.0.0.1').catch((e: TlsError) => e);
  assert.ok(is(SocketError)(err));
  assert.is((err as SocketError).syscallCode, 'EADDRINUSE');
  assert.ok(is(StateError)(await new Socket().listen().catch((e) => e)));
  assert.ok(is(StateError)(await a.accept().catch((e) => e)));
  a.close();
  b.close();
});

Props('listen(queue_length) keeps the bound port', async () => {
  const s = new Socket();
  await s.bind(0, '127.0.0.1');
  const port = s.port;
  assert.is(await s.listen(8), true);
  assert.is(s.port, port);
  const c = await connected(port);
  const peer = await s.accept();
  assert.ok(peer.is_connected);
  c.close();
  peer.close();
  s.close();
});

Props('bind() then connect(): the connection leaves from the bound port', async () => {
  const srv = await netServer((c) => c.end(String(c.remotePort)));
  try {
    const s = new Socket();
    await s.bind(0, '127.0.0.1');
    const local = s.port;
    await s.connect('127.0.0.1', srv.port);
    assert.is(await s.read(-1), String(local));
    assert.is((s.info() as { port: number }).port, local);
    s.close();
  } finally {
    await srv.close();
  }
});

/**
 * Whether this machine has an IPv6 loopback: node:net (not the Socket under
 * test) can listen on ::1. Asked separately so that a Socket that fails on
 * ::1 fails the test instead of passing for a machine without IPv6.
 */
function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

Props('AF_INET6 over ::1', async () => {
  if (!(await hasIpv6Loopback())) {
    // CI machines have ::1 on lo (as the machine this test was written on
    // does): there a missing loopback is a broken setup, not a reason to skip.
    if (process.env.CI === 'true') assert.unreachable('CI=true but node:net cannot listen on ::1: this machine has no IPv6 loopback');
    console.log('  skipped: no IPv6 loopback (::1) on this machine (AF_INET6 over ::1 not tested)');
    return;
  }
  const s = new Socket(AF_INET6);
  const c = new Socket(AF_INET6);
  let peer: Socket | undefined;
  const netPeer = new net.Socket();
  try {
    await s.bind(0, '::1');
    await s.listen();
    assert.is(s.family, AF_INET6);
    assert.equal(s.info(), { address: '::1', port: s.port, family: AF_INET6 });
    await c.connect('::1', s.port);
    peer = await withTimeout(s.accept(), 5000, 'accept over ::1');
    assert.equal(c.info(), { address: '::1', port: (c.info() as { port: number }).port, family: AF_INET6 });
    assert.is(peer.host, '::1');
    await c.send('v6');
    assert.is(await peer.read(2), 'v6');
    await peer.send('back');
    assert.is(await c.read(4), 'back');
    // A node:net client reaches the same listener over ::1.
    const reached = new Promise<void>((resolve, reject) => {
      netPeer.once('error', reject);
      netPeer.connect({ host: '::1', port: s.port, family: 6 }, () => {
        netPeer.end('from node:net');
        resolve();
      });
    });
    await withTimeout(reached, 5000, 'node:net connect over ::1');
    const fromNet = await withTimeout(s.accept(), 5000, 'accept of the node:net client');
    assert.is(await fromNet.read(-1), 'from node:net');
    fromNet.close();
  } finally {
    netPeer.destroy();
    c.close();
    peer?.close();
    s.close();
  }
});

Props('the constructor refuses other families, types and protocols', () => {
  assert.throws(() => new Socket(99), is(InvalidArgumentError));
  assert.throws(() => new Socket(AF_INET, 2), is(InvalidArgumentError));
  assert.throws(() => new Socket(AF_INET, SOCK_STREAM, 17), is(InvalidArgumentError));
  assert.is(new Socket(AF_INET, SOCK_STREAM, 0).protocol, IPPROTO_TCP);
});

Props.run();

// ---------------------------------------------------------------------------
const Fd = suite('Socket: the descriptor is read only while a read waits');

Fd('a connected client leaves arriving bytes in the kernel', async () => {
  const srv = await netServer((c) => c.write('kernel bytes'));
  try {
    const s = await connected(srv.port);
    assert.is((await readFd(s.id, 12)).toString(), 'kernel bytes');
    s.close();
  } finally {
    await srv.close();
  }
});

Fd('after a receive completes, later bytes stay in the kernel', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    const peer = await srv.next();
    peer.write('one');
    assert.is(await s.receive(), 'one');
    peer.write('two');
    assert.is((await readFd(s.id, 3)).toString(), 'two');
    s.close();
  } finally {
    await srv.close();
  }
});

Fd('an accepted socket leaves arriving bytes in the kernel', async () => {
  const server = new Socket();
  await server.bind(0, '127.0.0.1');
  await server.listen();
  const c = net.connect(server.port, '127.0.0.1');
  c.on('error', () => {});
  c.write('to the accepted one');
  const peer = await server.accept();
  assert.is((await readFd(peer.id, 19)).toString(), 'to the accepted one');
  c.destroy();
  peer.close();
  server.close();
});

Fd.run();

// ---------------------------------------------------------------------------
const IO = suite('Socket: send, receive, read');

IO('receive() gives what is available; receive(n) waits for n bytes; read(n) too; text is UTF-8', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    const peer = await srv.next();
    peer.write('héllo');
    assert.is(await s.receive(), 'héllo');
    const five = s.receive(5);
    peer.write('ab');
    await sleep(20);
    peer.write('cde');
    assert.is(await five, 'abcde');
    peer.write('x'.repeat(1500));
    assert.is((await s.read()).length, 1024);
    assert.is((await s.read(476)).length, 476);
    assert.is(await s.send('ok'), 2);
    const got = await new Promise<string>((r) => peer.once('data', (d) => r(d.toString())));
    assert.is(got, 'ok');
    s.close();
  } finally {
    await srv.close();
  }
});

IO('receive() never splits a UTF-8 character across calls', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    const peer = await srv.next();
    const euro = Buffer.from('€'); // e2 82 ac
    peer.write(euro.subarray(0, 1));
    const r = s.receive();
    await sleep(20);
    peer.write(euro.subarray(1));
    assert.is(await r, '€');
    s.close();
  } finally {
    await srv.close();
  }
});

IO('receive_bytes/read_bytes round-trip binary bit-exact; read(-1) reads to the end; then receive() is ""', async () => {
  const payload = randomBytes(300_000);
  const srv = await netServer((c) => c.end(payload));
  try {
    const s = await connected(srv.port);
    const head = await s.receive_bytes(1000);
    assert.is(head.length, 1000);
    const rest = await s.read_bytes(-1);
    assert.ok(Buffer.concat([head, rest]).equals(payload));
    assert.is(await s.receive(), '');
    assert.is((await s.read_bytes()).length, 0);
    s.close();
  } finally {
    await srv.close();
  }
});

IO('send() takes a string, a Buffer and an open file (streamed)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-send-'));
  const file = join(dir, 'payload.bin');
  const content = randomBytes(1_000_000);
  writeFileSync(file, content);
  const received: Buffer[] = [];
  const srv = await netServer((c) => c.on('data', (d) => received.push(d)));
  try {
    const s = await connected(srv.port);
    assert.is(await s.send('text'), 4);
    assert.is(await s.send(Buffer.from([0, 1, 2])), 3);
    const fh = await open(file);
    assert.is(await s.send(fh), content.length);
    await fh.close();
    await s.shutdown(SHUT_WR);
    const peer = await srv.next();
    await new Promise((r) => (peer.readableEnded ? r(null) : peer.once('end', r)));
    const all = Buffer.concat(received);
    assert.is(all.subarray(0, 7).toString('latin1'), 'text\x00\x01\x02');
    assert.is(createHash('sha256').update(all.subarray(7)).digest('hex'), createHash('sha256').update(content).digest('hex'));
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await srv.close();
  }
});

IO('bad arguments are refused', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    assert.ok(is(InvalidArgumentError)(await s.send(42 as never).catch((e) => e)));
    assert.ok(is(InvalidArgumentError)(await s.receive(-2).catch((e) => e)));
    assert.ok(is(InvalidArgumentError)(await s.read(1.5).catch((e) => e)));
    assert.ok(is(InvalidArgumentError)(await new Socket().connect('127.0.0.1', 70000).catch((e) => e)));
    assert.ok(is(StateError)(await new Socket().send('x').catch((e) => e)));
    assert.ok(is(StateError)(await new Socket().receive().catch((e) => e)));
    assert.ok(is(StateError)(await s.connect('127.0.0.1', srv.port).catch((e) => e)));
    s.close();
  } finally {
    await srv.close();
  }
});

IO.run();

// ---------------------------------------------------------------------------
const Modes = suite('Socket: blocking mode, timeouts, connect failures');

Modes('non-blocking receive answers at once; non-blocking accept fails with EAGAIN', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    const peer = await srv.next();
    s.set_blocking(false);
    assert.is(s.is_blocking, false);
    assert.is(await s.receive(), '');
    peer.write('now');
    let got = '';
    for (let i = 0; i < 200 && got === ''; i++) {
      got = await s.receive();
      if (got === '') await sleep(10);
    }
    assert.is(got, 'now');
    s.set_blocking(true);
    s.close();
  } finally {
    await srv.close();
  }
  const server = new Socket();
  await server.bind(0, '127.0.0.1');
  await server.listen();
  server.set_blocking(false);
  const err = await server.accept().catch((e: TlsError) => e);
  assert.ok(is(SocketError)(err));
  assert.is((err as SocketError).syscallCode, 'EAGAIN');
  server.close();
});

Modes('receive_timeout: receive and accept reject with TimeoutError and the socket stays usable', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    const peer = await srv.next();
    s.receive_timeout = 50;
    assert.is(s.get_option(SO_RCVTIMEO), 50);
    const err = await s.receive().catch((e: TlsError) => e);
    assert.ok(is(TimeoutError, 'ERR_TLS_TIMEOUT')(err));
    assert.ok(s.is_connected);
    peer.write('late');
    s.receive_timeout = 0;
    assert.is(await s.receive(), 'late');
    s.close();
  } finally {
    await srv.close();
  }
  const server = new Socket();
  await server.bind(0, '127.0.0.1');
  await server.listen();
  server.set_option(SO_RCVTIMEO, 30);
  assert.ok(is(TimeoutError)(await server.accept().catch((e) => e)));
  assert.ok(server.is_listening);
  server.close();
});

Modes('send_timeout: a send that cannot drain rejects with TimeoutError and closes the socket', async () => {
  const srv = await netServer((c) => c.pause());
  try {
    const s = await connected(srv.port);
    s.send_timeout = 200;
    assert.is(s.get_option(SO_SNDTIMEO), 200);
    const err = await withTimeout(s.send(Buffer.alloc(32 * 1024 * 1024)).catch((e: TlsError) => e), 10_000, 'send');
    assert.ok(is(TimeoutError, 'ERR_TLS_TIMEOUT')(err));
    assert.ok(s.is_closed);
  } finally {
    await srv.close();
  }
});

Modes('connect to a closed port: SocketError ECONNREFUSED, the socket is closed', async () => {
  const port = await freePort();
  const s = new Socket();
  const err = await s.connect('127.0.0.1', port).catch((e: TlsError) => e);
  assert.ok(is(SocketError, 'ERR_TLS_SOCKET')(err));
  assert.is((err as SocketError).syscallCode, 'ECONNREFUSED');
  assert.ok(s.is_closed);
});

Modes('connect with host null uses the socket host (localhost)', async () => {
  const srv = await netServer();
  try {
    const s = new Socket();
    assert.ok(await s.connect(null, srv.port));
    assert.is(s.host, 'localhost');
    s.close();
  } finally {
    await srv.close();
  }
});

Modes.run();

// ---------------------------------------------------------------------------
const End = suite('Socket: shutdown, close, options');

End('shutdown(SHUT_WR) sends FIN and reads go on; shutdown(SHUT_RD) ends reads', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    const peer = await srv.next();
    peer.on('end', () => peer.end('bye'));
    assert.is(await s.shutdown(SHUT_WR), true);
    assert.equal([s.is_shutdown, s.shutdown_reason], [true, SHUT_WR]);
    assert.is(await s.read(-1), 'bye');
    assert.ok(is(StateError)(await s.send('more').catch((e) => e)));
    s.close();

    const t = await connected(srv.port);
    await t.shutdown(SHUT_RD);
    assert.is(t.shutdown_reason, SHUT_RD);
    assert.is(await t.receive(), '');
    await t.shutdown();
    assert.is(t.shutdown_reason, SHUT_RDWR);
    t.close();
    assert.ok(is(InvalidArgumentError)(await new Socket().shutdown(9).catch((e) => e)));
  } finally {
    await srv.close();
  }
});

End('close() sends queued data, then every method throws ClosedError; waiting reads reject', async () => {
  const srv = await netServer();
  try {
    const s = await connected(srv.port);
    const peer = await srv.next();
    const chunks: Buffer[] = [];
    peer.on('data', (d) => chunks.push(d));
    const ended = new Promise((r) => peer.once('end', r));
    const pending = s.receive().catch((e) => e);
    await s.send('last words');
    s.close();
    assert.ok(is(ClosedError, 'ERR_TLS_CLOSED')(await pending));
    await withTimeout(ended, 5000, 'peer end');
    assert.is(Buffer.concat(chunks).toString(), 'last words');
    const calls: Array<() => Promise<unknown> | unknown> = [
      () => s.connect('127.0.0.1', srv.port),
      () => s.bind(0),
      () => s.listen(),
      () => s.accept(),
      () => s.send('x'),
      () => s.receive(),
      () => s.receive_bytes(),
      () => s.read(),
      () => s.read_bytes(),
      () => s.shutdown(),
      () => s.set_option(SO_KEEPALIVE, true),
      () => s.get_option(SO_KEEPALIVE),
      () => s.set_blocking(false),
    ];
    await assertAllClosed(calls);
    assert.equal(s.info(), {});
    assert.is(s.id, -1);
  } finally {
    await srv.close();
  }
});

End('set_option/get_option: keep-alive, no-delay, reuse-address, timeouts; others refused', async () => {
  const s = new Socket();
  assert.is(s.set_option(SO_KEEPALIVE, true), true);
  assert.is(s.get_option(SO_KEEPALIVE), true);
  assert.is(s.set_option(TCP_NODELAY, true), true);
  assert.is(s.get_option(TCP_NODELAY), true);
  assert.is(s.get_option(SO_REUSEADDR), false);
  assert.is(s.set_option(SO_REUSEADDR, true), true);
  assert.is(s.get_option(SO_REUSEADDR), true);
  assert.throws(() => s.set_option(SO_REUSEADDR, false), is(InvalidArgumentError));
  assert.is(s.set_option(SO_SNDTIMEO, 1000), true);
  assert.is(s.send_timeout, 1000);
  assert.is(s.set_option(SO_RCVTIMEO, 2000), true);
  assert.is(s.receive_timeout, 2000);
  assert.throws(() => s.set_option(12345, 1), is(InvalidArgumentError));
  assert.throws(() => s.get_option(12345), is(InvalidArgumentError));
  assert.throws(() => s.set_option(SO_KEEPALIVE, 'yes'), is(InvalidArgumentError));
  assert.throws(() => (s.receive_timeout = -5), is(InvalidArgumentError));
  const srv = await netServer();
  try {
    await s.connect('127.0.0.1', srv.port);
    assert.is(s.get_option(SO_KEEPALIVE), true);
    // The kernel's values (getsockopt), not remembered ones.
    assert.is(s.set_option(SO_SNDBUF, 65536), true);
    assert.is(s.get_option(SO_SNDBUF), 131072); // Linux doubles it
    assert.is(s.set_option(SO_RCVBUF, 65536), true);
    assert.is(s.get_option(SO_RCVBUF), 131072);
    assert.throws(() => s.set_option(SO_SNDBUF, 0), is(InvalidArgumentError));
    assert.is(s.set_option(TCP_NODELAY, false), true);
    assert.is(s.get_option(TCP_NODELAY), false);
    assert.is(s.set_option(SO_KEEPALIVE, false), true);
    assert.is(s.get_option(SO_KEEPALIVE), false);
    s.close();
    // Before there is a descriptor the buffer sizes cannot be set.
    assert.throws(() => new Socket().set_option(SO_SNDBUF, 65536), is(StateError));
    const bound = new Socket();
    await bound.bind(0, '127.0.0.1');
    assert.is(bound.get_option(SO_REUSEADDR), true, 'libuv sets SO_REUSEADDR on bind');
    bound.close();
    // The addon refuses options outside its allow-list and non-sockets.
    assert.throws(() => nativeBinding.getsockopt(0, 1, 3), (e: TlsError) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
  } finally {
    await srv.close();
  }
});

End.run();
