// The native fd objects (FdSsl, Bio) and their readiness wait (uv_poll on a
// dup of the descriptor): waits resolve on Node's loop, coexist with Node's
// own handle on the same descriptor, and nothing leaks (descriptors, poll
// handles) whether objects are freed or collected.
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

// Importing core installs the error factory the addon throws through.
import '@rxtls/core';
import { binding, WaitFor, type NativeContext } from '@rxtls/native';

import { withTimeout } from '../helpers/net.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const openFds = () => readdirSync('/proc/self/fd').length;
const nativeContext = (): NativeContext => new binding.Context(binding.methods.TLS_method);

async function echoServer(): Promise<{ port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

/** A connected socket; `pause` keeps Node from ever reading it (paused before connect, so libuv never starts). */
async function connected(port: number, pause = true): Promise<net.Socket> {
  const s = new net.Socket();
  if (pause) s.pause();
  s.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    s.once('connect', r);
    s.once('error', j);
  });
  return s;
}

const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;

const waits = suite('native: readiness waits');

waits('wait(writable) resolves at once; wait(readable) when the peer writes', async () => {
  const server = await echoServer();
  const sock = await connected(server.port);
  try {
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    assert.is(await withTimeout(ssl.wait(WaitFor.Writable), 5000, 'writable') & WaitFor.Writable, WaitFor.Writable);
    const readable = ssl.wait(WaitFor.Readable);
    // The echo server sends back what Node writes on the same socket.
    sock.write('x');
    assert.is((await withTimeout(readable, 5000, 'readable')) & WaitFor.Readable, WaitFor.Readable);
    ssl.free();
  } finally {
    sock.destroy();
    await server.close();
  }
});

waits("a wait on a descriptor Node itself is reading works (the dup has its own watcher)", async () => {
  const server = await echoServer();
  const sock = await connected(server.port, false);
  try {
    let nodeGot = '';
    sock.on('data', (d) => (nodeGot += d));
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    assert.ok((await withTimeout(ssl.wait(WaitFor.Writable), 5000, 'writable')) & WaitFor.Writable);
    sock.write('still mine');
    await withTimeout(
      new Promise<void>((r) => sock.on('data', () => nodeGot === 'still mine' && r())),
      5000,
      'node reads',
    );
    ssl.free();
  } finally {
    sock.destroy();
    await server.close();
  }
});

waits('free() rejects a pending wait with ERR_TLS_CLOSED; bad events are refused', async () => {
  const server = await echoServer();
  const sock = await connected(server.port);
  try {
    const ssl = new binding.FdSsl(nativeContext());
    ssl.setFd(fdOf(sock));
    assert.throws(() => ssl.wait(0), /events/);
    assert.throws(() => ssl.wait(4), /events/);
    const pending = ssl.wait(WaitFor.Readable);
    ssl.free();
    await pending.then(
      () => assert.unreachable('should reject'),
      (err: { code: string }) => assert.is(err.code, 'ERR_TLS_CLOSED'),
    );
    const bio = new binding.Bio(binding.bioMethods.BIO_s_connect);
    assert.throws(() => bio.wait(WaitFor.Readable), /no socket descriptor/);
    bio.free();
  } finally {
    sock.destroy();
    await server.close();
  }
});

waits.run();

// ---------------------------------------------------------------------------
const leaks = suite('native: no descriptor leaks');

leaks('100 rounds of set_fd + wait + free, connect BIO + free, accept BIO + free leave no descriptor behind', async () => {
  const server = await echoServer();
  try {
    // Warm up whatever Node opens lazily.
    const warm = await connected(server.port);
    warm.destroy();
    const before = openFds();
    for (let i = 0; i < 100; i++) {
      const sock = await connected(server.port);
      const ssl = new binding.FdSsl(nativeContext());
      ssl.setFd(fdOf(sock));
      await ssl.wait(WaitFor.Writable);
      ssl.free();
      sock.destroy();

      const c = new binding.Bio(binding.bioMethods.BIO_s_connect);
      c.setConnHostname('127.0.0.1');
      c.setConnPort(String(server.port));
      while (c.doHandshake() < 0) await c.wait(WaitFor.Writable);
      c.free();

      const a = new binding.Bio(binding.bioMethods.BIO_s_accept);
      a.setAcceptName('127.0.0.1');
      a.setAcceptPort('0');
      assert.is(a.doHandshake(), 1);
      a.free();
    }
    // Closes run on the loop (uv_close callbacks, sockets closing).
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(openFds() <= before + 2, `descriptors: ${before} before, ${openFds()} after`);
  } finally {
    await server.close();
  }
});

leaks('BIO chains and SSLs dropped without free() are released by the collector', async () => {
  const server = await echoServer();
  try {
    const before = openFds();
    // In a function of its own, so that no local of the last round stays reachable.
    const round = async (i: number) => {
      // An SSL BIO over a connected connect BIO, an SSL with a descriptor,
      // and an accept BIO holding an accepted connection: never freed.
      const ssl = new binding.FdSsl(nativeContext());
      ssl.setConnectState();
      const sb = new binding.Bio(binding.bioMethods.BIO_f_ssl);
      sb.setSsl(ssl, i % 2 === 0);
      const c = new binding.Bio(binding.bioMethods.BIO_s_connect);
      c.setConnHostname('127.0.0.1');
      c.setConnPort(String(server.port));
      sb.push(c);
      while (c.doHandshake() < 0) await c.wait(WaitFor.Writable);

      const a = new binding.Bio(binding.bioMethods.BIO_s_accept);
      a.setAcceptName('127.0.0.1');
      a.setAcceptPort('0');
      a.doHandshake();
      const peer = new binding.Bio(binding.bioMethods.BIO_s_connect);
      peer.setConnHostname('127.0.0.1');
      peer.setConnPort(a.getAcceptPort());
      while (peer.doHandshake() < 0) await peer.wait(WaitFor.Writable);
      while (a.doHandshake() < 0) await a.wait(WaitFor.Readable);
    };
    for (let i = 0; i < 30; i++) await round(i);
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(openFds() <= before + 4, `descriptors: ${before} before, ${openFds()} after collection`);
  } finally {
    await server.close();
  }
});

leaks.run();
