// Deadlines of the documented SSL and BIO waits (a silent peer no longer
// holds a handshake for ever; the object stays usable after the timeout),
// and sharing a descriptor with Node the documented way (pauseOnConnect, a
// client paused before connect, a Socket of this package) loses no byte.
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import {
  AcceptedBIO,
  BIO_NOCLOSE,
  ConnectBIO,
  DEFAULT_HANDSHAKE_TIMEOUT,
  InvalidArgumentError,
  SSL,
  SSLBIO,
  Socket,
  TLSClientContext,
  TLSServerContext,
  TimeoutError,
} from '@rxtls/core';

import { rejectsWith } from '../helpers/assert.js';
import { startGate } from '../helpers/gate.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { sslContexts } from '../helpers/ssl.js';

const P = pki();
const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;

const { clientContext, serverContext } = sslContexts(P);

/** A node:tls server; `onSecure` runs for each connection. */
async function tlsServer(onSecure: (s: tls.TLSSocket) => void = () => {}): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: P.server.cert, key: P.server.key }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onSecure(s);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A client net.Socket paused before it connects (Node never reads it). */
async function pausedClient(port: number): Promise<net.Socket> {
  const sock = new net.Socket();
  sock.pause();
  sock.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    sock.once('connect', r);
    sock.once('error', j);
  });
  return sock;
}

// ---------------------------------------------------------------------------
const deadline = suite('SSL and BIO: handshake deadline');

deadline('the default is DEFAULT_HANDSHAKE_TIMEOUT (an accept BIO waits for clients for ever); set_timeout checks its argument', () => {
  const ssl = new SSL(clientContext());
  assert.is(ssl.timeout, DEFAULT_HANDSHAKE_TIMEOUT);
  assert.is(DEFAULT_HANDSHAKE_TIMEOUT, 10_000);
  ssl.set_timeout(0);
  assert.is(ssl.timeout, 0);
  for (const bad of [1.5, 'x', 2 ** 31, -2])
    assert.throws(() => ssl.set_timeout(bad as number), (e: unknown) => e instanceof InvalidArgumentError);
  ssl.free();
  const c = new ConnectBIO();
  assert.is(c.timeout, DEFAULT_HANDSHAKE_TIMEOUT);
  c.set_timeout(250);
  assert.is(c.timeout, 250);
  c.free();
  const a = new AcceptedBIO();
  assert.is(a.timeout, 0);
  a.free();
  const sb = new SSLBIO();
  assert.is(sb.timeout, DEFAULT_HANDSHAKE_TIMEOUT);
  sb.free();
});

deadline('SSL.connect() to a server that never answers rejects with TimeoutError; connect() again completes once it answers', async () => {
  const server = await tlsServer();
  let open = false;
  // The gate accepts at once and forwards nothing until opened: a silent peer.
  const gate = await startGate(server.port, () => open);
  const sock = await pausedClient(gate.port);
  try {
    const ssl = new SSL(clientContext());
    ssl.set_fd(fdOf(sock));
    ssl.set_host('localhost');
    ssl.set_timeout(150);
    const err = await rejectsWith(ssl.connect(), 'ERR_TLS_TIMEOUT', /TLS handshake timed out after 150 ms/);
    assert.instance(err, TimeoutError);
    assert.not.ok(ssl.is_freed, 'the SSL stays usable');
    assert.not.ok(ssl.info().handshakeComplete);
    // The ClientHello waits in the gate; once it forwards, the same SSL goes on.
    open = true;
    ssl.set_timeout(10_000);
    assert.is(await withTimeout(ssl.connect(), 10_000, 'connect again'), true);
    assert.ok(ssl.info().handshakeComplete);
    ssl.free();
  } finally {
    sock.destroy();
    await gate.stop();
    await server.close();
  }
});

deadline('SSL.accept() from a client that never sends its ClientHello rejects with TimeoutError', async () => {
  let accepted: Promise<unknown> | undefined;
  const conns: net.Socket[] = [];
  const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
    conns.push(sock);
    const ssl = new SSL(serverContext());
    ssl.set_fd(fdOf(sock));
    ssl.set_timeout(100);
    accepted = ssl.accept().finally(() => ssl.free());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1'); // plain TCP, silent
  client.on('error', () => {});
  try {
    while (accepted === undefined) await new Promise((r) => setTimeout(r, 2));
    const err = await rejectsWith(withTimeout(accepted as Promise<unknown>, 10_000, 'accept'), 'ERR_TLS_TIMEOUT');
    assert.instance(err, TimeoutError);
  } finally {
    client.destroy();
    for (const c of conns) c.destroy();
    await new Promise((r) => srv.close(r));
  }
});

deadline('a read that has to run the handshake first is bounded by the same deadline', async () => {
  const server = await tlsServer();
  const gate = await startGate(server.port, () => false);
  const sock = await pausedClient(gate.port);
  try {
    const ssl = new SSL(clientContext());
    ssl.set_fd(fdOf(sock));
    ssl.set_host('localhost');
    ssl.set_connect_state();
    ssl.set_timeout(100);
    await rejectsWith(ssl.read(), 'ERR_TLS_TIMEOUT');
    ssl.free();
  } finally {
    sock.destroy();
    await gate.stop();
    await server.close();
  }
});

deadline('SSLBIO over a ConnectBIO: do_connect() times out against a silent server, and completes after it answers', async () => {
  const server = await tlsServer();
  let open = false;
  const gate = await startGate(server.port, () => open);
  try {
    const ssl = new SSL(clientContext());
    ssl.set_connect_state();
    const sb = new SSLBIO();
    sb.set_ssl(ssl, BIO_NOCLOSE);
    const conn = new ConnectBIO();
    conn.set_conn_hostname('localhost');
    conn.set_conn_port(gate.port);
    sb.push(conn);
    sb.set_timeout(150);
    const err = await rejectsWith(sb.do_connect(), 'ERR_TLS_TIMEOUT', /TLS handshake timed out/);
    assert.instance(err, TimeoutError);
    assert.not.ok(sb.is_freed);
    open = true;
    sb.set_timeout(10_000);
    assert.is(await withTimeout(sb.do_connect(), 10_000, 'do_connect again'), true);
    assert.is(await sb.write('ping'), 4);
    sb.free_all();
    ssl.free();
  } finally {
    await gate.stop();
    await server.close();
  }
});

deadline('an accept BIO given set_timeout stops waiting for a client with TimeoutError', async () => {
  const a = new AcceptedBIO();
  a.set_accept_name('127.0.0.1');
  a.set_accept_port(0);
  try {
    assert.is(await a.do_accept(), true); // binds and listens
    a.set_timeout(80);
    await rejectsWith(a.do_accept(), 'ERR_TLS_TIMEOUT', /accept timed out after 80 ms/);
    // Still listening: a client that comes now is accepted.
    a.set_timeout(10_000);
    const client = net.connect(Number(a.get_accept_port()), '127.0.0.1');
    client.on('error', () => {});
    assert.is(await withTimeout(a.do_accept(), 10_000, 'accept'), true);
    a.pop()?.free();
    client.destroy();
  } finally {
    a.free();
  }
});

deadline.run();

// ---------------------------------------------------------------------------
const sharing = suite('SSL on a descriptor Node also holds: the documented ways lose no byte');

const PAYLOAD = 256 * 1024;

/** Reads `n` bytes from `ssl` (bounded). */
async function readN(ssl: SSL, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for (let i = 0; i < 10_000 && got < n; i++) {
    const b = await ssl.read_bytes();
    if (b.length === 0) break;
    parts.push(b);
    got += b.length;
  }
  return Buffer.concat(parts);
}

/** A node:tls client that sends `data` the moment it is connected. */
function eagerClient(port: number, data: Buffer): tls.TLSSocket {
  const c = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: P.ca.cert }, () => c.write(data));
  c.on('error', () => {});
  return c;
}

sharing('net.createServer({ pauseOnConnect: true }): a client that writes at once loses nothing', async () => {
  const data = randomBytes(PAYLOAD);
  let served: Promise<Buffer> | undefined;
  const conns: net.Socket[] = [];
  const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
    conns.push(sock);
    const ssl = new SSL(serverContext());
    ssl.set_fd(fdOf(sock));
    served = ssl
      .accept()
      .then(() => readN(ssl, PAYLOAD))
      .finally(() => ssl.free());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = eagerClient((srv.address() as net.AddressInfo).port, data);
  try {
    while (served === undefined) await new Promise((r) => setTimeout(r, 2));
    const got = await withTimeout(served, 15_000, 'server read');
    assert.is(got.length, PAYLOAD);
    assert.ok(got.equals(data), 'every byte arrived, in order');
  } finally {
    client.destroy();
    for (const c of conns) c.destroy();
    await new Promise((r) => srv.close(r));
  }
});

sharing("a Socket from this package's accept(): its id given to set_fd, a client that writes at once loses nothing", async () => {
  const data = randomBytes(PAYLOAD);
  const listener = new Socket();
  await listener.bind(0, '127.0.0.1');
  await listener.listen();
  const client = eagerClient(listener.port as number, data);
  try {
    const conn = await withTimeout(listener.accept(), 10_000, 'accept');
    const ssl = new SSL(serverContext());
    ssl.set_fd(conn.id);
    await withTimeout(ssl.accept(), 10_000, 'handshake');
    const got = await withTimeout(readN(ssl, PAYLOAD), 15_000, 'read');
    assert.ok(got.equals(data), 'every byte arrived, in order');
    ssl.free();
    conn.close();
  } finally {
    client.destroy();
    listener.close();
  }
});

sharing('a client net.Socket paused before connect(): a server that writes at once loses nothing', async () => {
  const data = randomBytes(PAYLOAD);
  const server = await tlsServer((s) => s.write(data));
  const sock = await pausedClient(server.port);
  try {
    const ssl = new SSL(clientContext());
    ssl.set_fd(fdOf(sock));
    ssl.set_host('localhost');
    await withTimeout(ssl.connect(), 10_000, 'handshake');
    const got = await withTimeout(readN(ssl, PAYLOAD), 15_000, 'read');
    assert.ok(got.equals(data), 'every byte arrived, in order');
    ssl.free();
  } finally {
    sock.destroy();
    await server.close();
  }
});

sharing.run();
