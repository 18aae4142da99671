// handshakeOffload in tests: one server helper for both transports, and a
// way to hold every libuv pool thread, so that a test can see a handshake
// step wait for the pool (it runs there) or complete without it (it does not).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createTlsServer, type SecureConnection, type ServerOptions, type TlsError, type Transport } from '@rxtls/core';

import { withTimeout } from './net.js';

export const TRANSPORTS: readonly Transport[] = ['js', 'native'];

export interface OffloadServer {
  port: number;
  /** The failures the server's connections reported (before or after their handshake), in order. */
  errors: TlsError[];
  /** Connections the handler got (on the native transport: secure ones only). */
  opened: number;
  /** Of those, how many closed. */
  closed: number;
  /** Stops accepting and waits for 'close' (every connection gone). */
  close(): Promise<void>;
  /** Native: closes every connection at once (`shutdown(0)`); JS: as close(). */
  shutdownNow(): Promise<void>;
}

/**
 * Starts `createTlsServer` on 127.0.0.1 with `transport` given explicitly.
 * `onConnection` runs when the JS transport accepts, or when the native
 * transport's handshake is done; `onsecure` set there fires on both.
 */
export async function startOffloadServer(
  transport: Transport,
  options: ServerOptions,
  onConnection: (c: SecureConnection) => void = (c) => void (c.ondata = (d) => c.write(d)),
): Promise<OffloadServer> {
  const errors: TlsError[] = [];
  const counts = { opened: 0, closed: 0 };
  const handler = (c: SecureConnection) => {
    counts.opened++;
    c.onerror = (err) => errors.push(err);
    onConnection(c);
    const onclose = c.onclose;
    c.onclose = (e) => {
      counts.closed++;
      onclose?.(e);
    };
  };
  const server = transport === 'native'
    ? createTlsServer({ ...options, transport: 'native' }, handler)
    : createTlsServer({ ...options, transport: 'js' }, handler);
  if (transport === 'native') server.on('tlsClientError', (e: TlsError) => errors.push(e));
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 5_000, 'listen');
  const port = (server.address() as AddressInfo).port;
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  return {
    port,
    errors,
    get opened() {
      return counts.opened;
    },
    get closed() {
      return counts.closed;
    },
    close: () => {
      server.close();
      return withTimeout(closed, 15_000, 'server close');
    },
    shutdownNow: () => {
      if ('shutdown' in server) void server.shutdown(0);
      else server.close();
      return withTimeout(closed, 15_000, 'server shutdown');
    },
  };
}

export interface BlockedPool {
  /** Frees the pool threads (idempotent). */
  release(): Promise<void>;
}

/**
 * Holds every thread of libuv's pool (UV_THREADPOOL_SIZE, default 4): each
 * waits in open() on a FIFO until release(). libuv's queue is first in,
 * first out, so work queued after this call waits however soon the threads
 * pick these up. Nothing in the process may need the pool until release()
 * (fs, dns.lookup: connect to IP addresses).
 */
export function blockPool(): BlockedPool {
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-pool-'));
  const fifos = Array.from({ length: size }, (_, i) => join(dir, `f${i}`));
  for (const f of fifos) execFileSync('mkfifo', [f]);
  const opened = fifos.map((f) => open(f, 'r').then((fh) => fh.close()));
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      // Synchronous: an asynchronous open would wait for the pool it frees.
      // Each returns at once, a reader being already in open().
      for (const f of fifos) closeSync(openSync(f, 'w'));
      await Promise.all(opened);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
