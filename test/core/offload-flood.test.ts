// handshakeOffload under a flood, on both transports: one client sends a real
// ClientHello and then junk as fast as the server takes it, while the
// server's thread pool is kept busy (UV_THREADPOOL_SIZE=1 and its one thread
// waiting in open() on a FIFO), so the ClientHello's step stays queued. A
// connection stops reading while a step is in flight: the client stalls on
// TCP flow control and the server's RSS stays flat (it grew from 82 to 731
// MiB before). A JS engine fed past the cap regardless fails with a typed error.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { MAX_HELD_DURING_STEP } from '@rxtls/core';
import { binding, CycleFlag, type SessionOut } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { TRANSPORTS } from '../helpers/offload.js';
import { pki } from '../helpers/pki.js';

const MiB = 1024 * 1024;
/** What the client tries to push: far more than the kernel buffers of one loopback connection. */
const FLOOD = 256 * MiB;
/** The server's RSS may grow by this much at most (it grew by ~650 MiB before the fix). */
const RSS_LIMIT = 64 * MiB;

interface Ctx {
  child: ChildProcess;
  dir: string;
  fifo: string;
  port: number;
  rss0: number;
  released: boolean;
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m?.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null) => reject(new Error(`server child exited (${code}) before '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function ask<T>(ctx: Ctx, msg: string, type: string): Promise<T> {
  const reply = nextMessage<T>(ctx.child, type);
  ctx.child.send(msg);
  return withTimeout(reply, 10_000, `server child: ${msg}`);
}

/** Opens the FIFO for writing: the child's pool thread, waiting in open(), is free again. */
async function releasePool(ctx: Ctx): Promise<void> {
  if (ctx.released) return;
  ctx.released = true;
  const fh = await withTimeout(open(ctx.fifo, 'w'), 10_000, 'open the FIFO');
  await fh.close();
}

function clientHello(): Buffer {
  const ctx = new binding.Context(binding.methods.TLS_client_method);
  ctx.addCACertificates(pki().ca.cert);
  const out: SessionOut = [undefined, undefined, undefined];
  const client = new binding.Session(ctx, false, out, { servername: 'localhost', verifyHost: 'localhost' });
  assert.ok(client.cycle() & CycleFlag.EncOut);
  const hello = out[1]!;
  client.free();
  return hello;
}

/**
 * Connects, sends the ClientHello, then junk until FLOOD bytes went out or
 * the socket stopped draining for a second (the server no longer reads).
 */
async function flood(port: number): Promise<{ sent: number; stalled: boolean; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(clientHello());
  const junk = Buffer.alloc(64 * 1024, 0x41);
  let sent = 0;
  while (sent < FLOOD) {
    sent += junk.length;
    if (socket.write(junk)) continue;
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        socket.off('drain', onDrain);
        resolve(false);
      }, 1000);
      const onDrain = () => {
        clearTimeout(timer);
        resolve(true);
      };
      socket.once('drain', onDrain);
    });
    if (!drained) return { sent, stalled: true, socket };
  }
  return { sent, stalled: false, socket };
}

for (const transport of TRANSPORTS) {
  const Flood = suite<Ctx>(`handshake offload [${transport}]: a flood while the pool is busy`);

  Flood.before(async (ctx) => {
    ctx.dir = mkdtempSync(join(tmpdir(), 'rxtls-flood-'));
    ctx.fifo = join(ctx.dir, 'pool-blocker');
    execFileSync('mkfifo', [ctx.fifo]);
    ctx.released = false;
    ctx.child = fork(fileURLToPath(new URL('./fixtures/offload-flood-server.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = nextMessage<{ port: number; rss: number }>(ctx.child, 'listening');
    ctx.child.send({ cert: pki().server.cert, key: pki().server.key, ca: pki().ca.cert, fifo: ctx.fifo, transport });
    const { port, rss } = await withTimeout(ready, 20_000, 'server child start');
    ctx.port = port;
    ctx.rss0 = rss;
    await ask(ctx, 'block', 'blocked');
  });

  Flood.after(async (ctx) => {
    await releasePool(ctx).catch(() => {});
    const exited = new Promise((r) => ctx.child.once('exit', r));
    if (ctx.child.connected) ctx.child.send('stop');
    const killer = setTimeout(() => ctx.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
    rmSync(ctx.dir, { recursive: true, force: true });
  });

  Flood('junk after a ClientHello is left in the kernel: the client stalls, the server RSS stays flat', async (ctx) => {
    const { sent, stalled, socket } = await withTimeout(flood(ctx.port), 60_000, 'flood');
    const { maxRss } = await ask<{ maxRss: number }>(ctx, 'rss', 'rss');
    // Once the pool is free the step runs, the junk fails the handshake and the server closes.
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    await releasePool(ctx);
    const closedInTime = await withTimeout(closed, 10_000, 'close').then(() => true, () => false);
    socket.destroy();
    const growth = maxRss - ctx.rss0;
    console.log(`  sent ${(sent / MiB).toFixed(1)} MiB before stalling: ${stalled}; server RSS ${(ctx.rss0 / MiB).toFixed(1)} -> ${(maxRss / MiB).toFixed(1)} MiB`);
    assert.ok(stalled, `the server kept reading: ${sent / MiB} MiB went through`);
    assert.ok(growth < RSS_LIMIT, `server RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(closedInTime, 'the server closes the flooding connection');
    const { errors } = await ask<{ errors: string[] }>(ctx, 'errors', 'errors');
    assert.equal(errors, ['ERR_TLS_HANDSHAKE'], 'the flooding connection failed its handshake');
  });

  // The native transport holds nothing while a step runs (it reads nothing): no cap to pass.
  if (transport === 'js')
    Flood('an engine fed more than a handshake flight while its step runs fails with a HandshakeError', async (ctx) => {
      ctx.released = false;
      await ask(ctx, 'block', 'blocked');
      const r = await ask<{ code: string; message: string }>(ctx, 'cap', 'cap');
      assert.is(r.code, 'ERR_TLS_HANDSHAKE', r.message);
      assert.match(r.message, `more than ${MAX_HELD_DURING_STEP} bytes`);
      await releasePool(ctx);
    });

  Flood.run();
}
