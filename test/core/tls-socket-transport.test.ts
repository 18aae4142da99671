// Which transport a TLSSocket runs on, and what taking a Socket's connection
// over natively must keep: the native transport is the default (the addon
// holds the connection, the Socket's net.Socket reads nothing), 'js' is the
// engine over the net.Socket; bytes the Socket read before count as TLS
// input; close() flushes everything queued before either descriptor closes;
// descriptors and native objects go back where they started.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';

import {
  HandshakeError,
  InvalidArgumentError,
  Socket,
  StateError,
  TCP_NODELAY,
  TLSClientContext,
  TLSServerContext,
  TLSSocket,
  type TLSSocketTransport,
  type TlsError,
} from '@rxtls/core';
import { binding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const P = pki();
const TRANSPORTS: TLSSocketTransport[] = ['native', 'js'];
const openFds = () => readdirSync('/proc/self/fd').length;
const nativeConnections = () => (binding.debugCounters() as Record<string, number>)['TcpConnection'] ?? 0;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function clientCtx(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(P.file('ca', 'crt'));
  return ctx;
}

function client(transport: TLSSocketTransport): TLSSocket {
  const s = new TLSSocket(new Socket(), clientCtx());
  s.set_transport(transport);
  return s;
}

/** A node:tls server on 127.0.0.1 that hands each connection to `onConnection`. */
async function nodeServer(onConnection: (s: tls.TLSSocket) => void) {
  const conns = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: P.server.cert, key: P.server.key }, (s) => {
    conns.add(s);
    s.on('close', () => conns.delete(s));
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    conns,
    close: () => {
      for (const c of conns) c.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Waits until `check` holds (the loop closes handles asynchronously). */
async function until(check: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
  assert.ok(check(), label);
}

const T = suite('TLSSocket transports');

T('the default is native: the addon holds the connection; js runs none natively', async () => {
  const server = await nodeServer((s) => s.pipe(s));
  try {
    for (const transport of TRANSPORTS) {
      const before = nativeConnections();
      const s = new TLSSocket(new Socket(), clientCtx());
      if (transport === 'js') s.set_transport('js');
      assert.is(s.get_transport(), transport);
      await withTimeout(s.connect('localhost', server.port), 10_000, 'connect');
      assert.is(nativeConnections() - before, transport === 'native' ? 1 : 0, `${transport}: native connections`);
      await s.send('ping');
      assert.is(await withTimeout(s.read(4), 5_000, 'echo'), 'ping');
      assert.ok(s.id >= 0, 'the Socket keeps its descriptor (options, addresses)');
      assert.is(s.get_option(TCP_NODELAY), false, 'the transport leaves the socket options as they were');
      s.set_option(TCP_NODELAY, true);
      assert.is(s.get_option(TCP_NODELAY), true);
      assert.is(s.info().port, s.get_socket().info().port);
      s.close();
      await until(() => nativeConnections() === before, `${transport}: the native connection closed`);
    }
  } finally {
    await server.close();
  }
});

T('set_transport: values, and only before the connection starts; accepted sockets inherit it', async () => {
  const s = new TLSSocket();
  assert.throws(() => s.set_transport('tcp' as never), (e: TlsError) => e instanceof InvalidArgumentError);
  const serverCtx = new TLSServerContext();
  serverCtx.load_certs(P.file('server', 'crt'), P.file('server', 'key'));
  for (const transport of TRANSPORTS) {
    const listener = new TLSSocket(new Socket(), serverCtx);
    listener.set_transport(transport);
    await listener.bind(0, '127.0.0.1');
    await listener.listen();
    const accepted = listener.accept();
    const c = client(transport === 'js' ? 'native' : 'js'); // the other one: both ends interoperate
    await withTimeout(c.connect('localhost', listener.port), 10_000, 'connect');
    const peer = await withTimeout(accepted, 10_000, 'accept');
    assert.is(peer.get_transport(), transport);
    assert.throws(() => c.set_transport(transport), (e: TlsError) => e instanceof StateError);
    await peer.send('from the server');
    assert.is(await withTimeout(c.read(15), 5_000, 'read'), 'from the server');
    c.close();
    assert.is(await withTimeout(peer.receive(), 5_000, 'close_notify'), '');
    peer.close();
    listener.close();
  }
});

T('bytes the Socket read before the handshake are the first TLS input (a server that answers in plaintext fails it)', async () => {
  // "OK\r\n" and then no TLS at all, in one segment: the Socket's read(4)
  // buffers the rest, which must reach OpenSSL as the server's first bytes.
  const raw = net.createServer((s) => {
    s.on('error', () => {});
    s.resume(); // the ClientHello is read and dropped, so the client's FIN ends this side
    s.end('OK\r\nHTTP/1.1 400 Bad Request\r\n\r\n');
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  const port = (raw.address() as net.AddressInfo).port;
  try {
    for (const transport of TRANSPORTS) {
      const sock = new Socket();
      await sock.connect('127.0.0.1', port);
      await sleep(50); // the whole answer is in the kernel before the Socket reads
      assert.is(await sock.read(4), 'OK\r\n');
      assert.ok(sock.pending() > 0, 'the Socket holds bytes past "OK"');
      const s = new TLSSocket(sock, clientCtx());
      s.set_transport(transport);
      const err = await withTimeout(s.connect('localhost', port).then(() => undefined, (e: unknown) => e), 10_000, 'connect');
      assert.ok(err instanceof HandshakeError, `${transport}: ${String(err)}`);
      assert.match((err as Error).message, /wrong version number|packet length too long|record layer failure/i);
      assert.ok(s.is_closed);
    }
  } finally {
    await new Promise<void>((r) => raw.close(() => r()));
  }
});

T('close() right after a large send: the peer gets every byte and close_notify', async () => {
  const got = new Map<tls.TLSSocket, Buffer[]>();
  const ended: Array<Promise<Buffer>> = [];
  const server = await nodeServer((s) => {
    const chunks: Buffer[] = [];
    got.set(s, chunks);
    // Read slowly at first, so the sender's buffers are full when it closes.
    s.pause();
    setTimeout(() => s.resume(), 300);
    ended.push(new Promise((r) => s.on('data', (c: Buffer) => chunks.push(c)).once('end', () => r(Buffer.concat(chunks)))));
  });
  try {
    for (const transport of TRANSPORTS) {
      const data = randomBytes(8 * 1024 * 1024 + 17);
      const s = client(transport);
      await withTimeout(s.connect('localhost', server.port), 10_000, 'connect');
      void s.send(data).catch(() => {});
      await sleep(20);
      assert.ok(s.close());
      const received = await withTimeout(ended[ended.length - 1]!, 20_000, `${transport}: end`);
      assert.is(received.length, data.length, `${transport}: bytes`);
      assert.is(sha256(received), sha256(data), `${transport}: content`);
    }
  } finally {
    await server.close();
  }
});

T('400 connections opened and closed: descriptors and native connections back where they started', async () => {
  const server = await nodeServer((s) => s.pipe(s));
  try {
    for (const transport of TRANSPORTS) {
      // One connection first: lazily made state (the loop's, the context's) is not a leak.
      const natives = nativeConnections();
      const warm = client(transport);
      await warm.connect('localhost', server.port);
      warm.close();
      await until(() => server.conns.size === 0 && nativeConnections() === natives, 'warm-up closed');
      const fds = openFds();
      for (let i = 0; i < 200; i++) {
        const a = client(transport);
        const b = client(transport);
        await withTimeout(Promise.all([a.connect('localhost', server.port), b.connect('localhost', server.port)]), 10_000, 'connect');
        await a.send('x');
        assert.is(await withTimeout(a.read(1), 5_000, 'echo'), 'x');
        a.close(); // clean: close_notify
        b.get_socket().close(); // the Socket under it first, then the TLS socket
        b.close();
      }
      await until(() => server.conns.size === 0 && nativeConnections() === natives, `${transport}: connections closed (${server.conns.size} on the server, ${nativeConnections() - natives} native)`);
      await until(() => openFds() <= fds, `${transport}: descriptors ${openFds()} > ${fds}`);
    }
  } finally {
    await server.close();
  }
});

T.run();
