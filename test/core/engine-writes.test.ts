// The engine's write path: writes queued during a post-handshake
// authentication keep their own bytes (a file streamed meanwhile arrives
// intact), a session whose write or shutdown throws fails the connection,
// whenDrained() resolves on drain and rejects with the connection's error,
// and a TlsDuplex destroyed under a waiting write fails it with a typed error.
// The engine under test is the JS transport's (`transport: 'js'`); the peer
// of the throwing sessions runs on the native transport, the default.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ClosedError,
  ProtocolError,
  SSL_VERIFY_PEER,
  SSL_VERIFY_POST_HANDSHAKE,
  TLSClientContext,
  TLSServerContext,
  TLSSocket,
  TimeoutError,
  connectTls,
  connectTlsDuplex,
  type TlsEngine,
  type TlsError,
} from '@rxtls/core';
import type { NativeSession } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect, whenSecure } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/features.js';
import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const P = pki();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The engine's native session (a private field), to make its calls throw. */
const sessionOf = (engine: TlsEngine) => (engine as unknown as { session_: NativeSession }).session_;

/** Replaces one method of the engine's session by `impl` (an own property: the addon's are on the prototype). */
function override(engine: TlsEngine, name: 'write' | 'shutdown', impl: () => never): void {
  Object.defineProperty(sessionOf(engine), name, { value: impl, configurable: true });
}

/** Collects the engine's plaintext until `bytes` arrived. */
function receive(engine: TlsEngine, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    engine.ondata = (c) => {
      chunks.push(c);
      n += c.length;
      if (n >= bytes) resolve(Buffer.concat(chunks));
    };
    engine.onclose = (err) => reject(err ?? new Error(`closed after ${n} of ${bytes} bytes`));
  });
}

// ---------------------------------------------------------------------------
const Pha = suite<{ dir?: string; server?: TLSSocket }>('writes queued during post-handshake auth');
Pha.after.each((ctx) => {
  ctx.server?.close();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

Pha('TLSSocket.send(FileHandle) while verify_client_post_handshake runs: the file arrives intact (SHA-256)', async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'rxtls-pha-'));
  const file = join(ctx.dir, 'payload.bin');
  const payload = randomBytes(1024 * 1024 + 12_345); // 17 chunks of the 64 KiB file buffer
  writeFileSync(file, payload);

  const sctx = new TLSServerContext();
  sctx.load_certs(P.server.cert, P.server.key);
  sctx.set_verify_locations(P.ca.cert);
  sctx.set_verify(SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE);
  const server = (ctx.server = new TLSSocket(null, sctx));
  await server.bind(0, '127.0.0.1');
  await server.listen();
  const accepted = withTimeout(server.accept(), 10_000, 'accept');

  const cctx = new TLSClientContext();
  cctx.set_verify_locations(P.ca.cert);
  cctx.load_certs(P.client.cert, P.client.key); // offers post-handshake auth
  const client = await withTimeout(connect({ transport: 'js', host: 'localhost', port: server.port, context: cctx }), 10_000, 'connect');
  // The client does not read (so does not answer) until the whole file was handed to send().
  client.pause();
  const peer = await accepted;
  assert.is(peer.get_session_info()!.protocol, 'TLSv1.3');
  const asked = peer.verify_client_post_handshake();
  const fh = await open(file, 'r');
  try {
    assert.is(await withTimeout(peer.send(fh), 10_000, 'send(file)'), payload.length);
  } finally {
    await fh.close();
  }
  const got = receive(client, payload.length);
  client.resume();
  assert.is((await withTimeout(asked, 10_000, 'post-handshake auth'))?.subject.CN, 'rxtls test client');
  const data = await withTimeout(got, 20_000, 'file data');
  assert.is(data.length, payload.length);
  assert.is(sha256(data), sha256(payload), 'the bytes sent are the file’s');
  client.destroy();
  peer.close();
});

Pha.run();

// ---------------------------------------------------------------------------
const Throws = suite<{ srv?: RunningServer }>('a session whose write or shutdown throws');
Throws.before(async (ctx) => {
  ctx.srv = await startServer({ cert: P.server.cert, key: P.server.key });
});
Throws.after(async (ctx) => {
  await ctx.srv?.close();
});

/** What the engine reported: its error handler and close handler, in order. */
function watch(engine: TlsEngine): { events: string[]; closed: Promise<TlsError | undefined> } {
  const events: string[] = [];
  engine.onerror = (err) => events.push(`error ${err.code}`);
  const closed = new Promise<TlsError | undefined>((resolve) => {
    engine.onclose = (err) => {
      events.push(`close ${err?.code ?? '-'}`);
      resolve(err);
    };
  });
  return { events, closed };
}

Throws('write(): the connection fails with the thrown error, which write() rethrows', async (ctx) => {
  const engine = await withTimeout(connect({ transport: 'js', host: 'localhost', port: ctx.srv!.port, ca: P.ca.cert }), 10_000, 'connect');
  const { events, closed } = watch(engine);
  const boom = new ProtocolError('TLS write failed (simulated)');
  const out = (engine as unknown as { out_: unknown[] }).out_;
  override(engine, 'write', () => {
    out[2] = boom; // as the addon leaves it
    throw boom;
  });
  let thrown: unknown;
  try {
    engine.write('x');
  } catch (err) {
    thrown = err;
  }
  assert.is(thrown, boom, 'write() rethrows the session’s error');
  assert.is(engine.error, boom, 'the engine failed with it');
  assert.is(out[2], undefined, 'out[2] was cleared');
  assert.equal(events, ['error ERR_TLS_PROTOCOL']);
  assert.is(await withTimeout(closed, 5_000, 'close'), boom);
  assert.throws(() => engine.write('again'), (e: unknown) => e === boom);
});

Throws('writes queued before the handshake: a throw when they are flushed fails the connection (no uncaught exception)', async (ctx) => {
  const engine = connectTls({ transport: 'js', host: 'localhost', port: ctx.srv!.port, ca: P.ca.cert });
  const { events, closed } = watch(engine);
  const boom = new ProtocolError('TLS write failed (simulated)');
  override(engine, 'write', () => {
    throw boom;
  });
  assert.is(engine.write('queued'), true);
  assert.is(await withTimeout(closed, 10_000, 'close'), boom);
  assert.equal(events, ['error ERR_TLS_PROTOCOL', 'close ERR_TLS_PROTOCOL']);
});

Throws('end(): a shutdown that throws fails the connection; end() itself does not throw', async (ctx) => {
  const engine = await withTimeout(connect({ transport: 'js', host: 'localhost', port: ctx.srv!.port, ca: P.ca.cert }), 10_000, 'connect');
  const { events, closed } = watch(engine);
  const boom = new ProtocolError('TLS shutdown failed (simulated)');
  override(engine, 'shutdown', () => {
    throw boom;
  });
  engine.end();
  assert.is(engine.error, boom);
  assert.is(await withTimeout(closed, 5_000, 'close'), boom);
  assert.equal(events, ['error ERR_TLS_PROTOCOL', 'close ERR_TLS_PROTOCOL']);
});

Throws.run();

// ---------------------------------------------------------------------------
const Drained = suite<{ srv?: RunningServer; reading?: boolean }>('TlsEngine.whenDrained()');
Drained.before(async (ctx) => {
  // A server that reads only while `reading` is set: the client's socket can be filled.
  ctx.reading = true;
  ctx.srv = await startServer({ transport: 'js', cert: P.server.cert, key: P.server.key }, (engine) => {
    engine.ondata = () => {};
    engine.onsecure = () => {
      if (!ctx.reading) engine.pause();
    };
  });
});
Drained.after(async (ctx) => {
  await ctx.srv?.close();
});

/** Writes 64 KiB chunks until write() returns false. */
function fill(engine: TlsEngine): number {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let n = 0;
  while (engine.write(chunk)) n++;
  return n + 1;
}

Drained('resolves at once below the high-water mark, and after the drain once write() returned false', async (ctx) => {
  ctx.reading = true;
  const engine = await withTimeout(connect({ transport: 'js', host: 'localhost', port: ctx.srv!.port, ca: P.ca.cert }), 10_000, 'connect');
  await withTimeout(engine.whenDrained(), 1_000, 'nothing buffered');
  fill(engine);
  assert.ok(engine.socket.writableNeedDrain);
  await withTimeout(engine.whenDrained(), 10_000, 'drain');
  assert.not.ok(engine.socket.writableNeedDrain);
  engine.destroy();
});

Drained('rejects with the connection’s error when it fails, with a ClosedError when it closes, while waiting', async (ctx) => {
  ctx.reading = false;
  const failing = await withTimeout(connect({ transport: 'js', host: 'localhost', port: ctx.srv!.port, ca: P.ca.cert }), 10_000, 'connect');
  // Fill until the socket stays full: the server does not read.
  for (let i = 0; i < 200 && !failing.socket.writableNeedDrain; i++) {
    fill(failing);
    await sleep(1);
  }
  assert.ok(failing.socket.writableNeedDrain);
  const waiting = failing.whenDrained().then(() => 'drained', (e: TlsError) => e);
  const reason = new TimeoutError('gave up (test)');
  failing.destroy(reason);
  assert.is(await withTimeout(waiting, 5_000, 'rejection'), reason);
  assert.is(await failing.whenDrained().catch((e: TlsError) => e), reason, 'and at once afterwards');

  const closing = await withTimeout(connect({ transport: 'js', host: 'localhost', port: ctx.srv!.port, ca: P.ca.cert }), 10_000, 'connect');
  fill(closing);
  const waitingClose = closing.whenDrained().then(() => 'drained', (e: TlsError) => e);
  closing.destroy();
  const err = await withTimeout(waitingClose, 5_000, 'rejection on close');
  assert.instance(err, ClosedError);
  assert.is((err as TlsError).code, 'ERR_TLS_CLOSED');
});

Drained.run();

// ---------------------------------------------------------------------------
const Duplex = suite<{ srv?: RunningServer }>('TlsDuplex destroyed under a waiting write');
Duplex.before(async (ctx) => {
  ctx.srv = await startServer({ transport: 'js', cert: P.server.cert, key: P.server.key }, (engine) => {
    engine.ondata = () => {};
  });
});
Duplex.after(async (ctx) => {
  await ctx.srv?.close();
});

Duplex('the write callback gets a ClosedError with a code, not a plain Error', async (ctx) => {
  const duplex = connectTlsDuplex({ host: 'localhost', port: ctx.srv!.port, ca: P.ca.cert, transport: 'js' });
  await withTimeout(whenSecure(duplex.engine), 10_000, 'connect');
  duplex.on('error', () => {}); // the server's close may reset the socket after the test
  // More than the kernel takes at once: the write waits for the socket's drain.
  const written = new Promise<Error | null | undefined>((resolve) => duplex.write(Buffer.alloc(32 * 1024 * 1024, 1), resolve));
  assert.ok(duplex.engine.socket.writableNeedDrain, 'the write waits for the socket');
  duplex.destroy();
  const err = await withTimeout(written, 5_000, 'write callback');
  assert.instance(err, ClosedError);
  assert.is((err as TlsError).code, 'ERR_TLS_CLOSED');
});

Duplex.run();
