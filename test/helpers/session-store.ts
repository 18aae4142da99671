// Session stores for the store tests: a Map, a recorder around any store,
// a server that answers `resumed`/`full` and ends, and Debian's redis-server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

import { TLS1_2_VERSION, TLSClientContext, type ServerOptions, type SessionStore } from '@rxtls/core';

import { startServer, type RunningServer } from './features.js';
import { withTimeout } from './net.js';
import type { Pki } from './pki.js';

/** A store in a Map (one "Redis" shared by servers in this process). */
export function mapStore(map = new Map<string, Buffer>()): SessionStore & { map: Map<string, Buffer> } {
  return {
    map,
    get: async (id) => map.get(id.toString('hex')),
    set: async (id, session) => void map.set(id.toString('hex'), Buffer.from(session)),
    delete: async (id) => void map.delete(id.toString('hex')),
  };
}

/** Wraps a store, recording lookups and the writes (to wait for them). */
export function recorded(
  inner: SessionStore,
): SessionStore & { gets: Buffer[]; sets: Array<Promise<unknown>>; ttls: number[]; deletes: Buffer[]; settled(): Promise<void> } {
  const gets: Buffer[] = [];
  const deletes: Buffer[] = [];
  const sets: Array<Promise<unknown>> = [];
  const ttls: number[] = [];
  return {
    gets,
    sets,
    ttls,
    get: (id) => (gets.push(Buffer.from(id)), inner.get(id)),
    set: (id, session, ttl) => {
      ttls.push(ttl);
      const p = inner.set(id, session, ttl);
      sets.push(p.catch(() => {}));
      return p;
    },
    deletes,
    delete: (id) => (deletes.push(Buffer.from(id)), inner.delete(id)),
    settled: async () => void (await Promise.all(sets)),
  };
}

/** A server that answers `resumed` or `full` once secure, then ends the connection. */
export function answeringServer(p: Pki, options: Omit<ServerOptions, 'cert' | 'key'>): Promise<RunningServer> {
  // native: see issue 12 (in progress) — the session store runs on the JS transport for now.
  return startServer({ transport: 'js', cert: p.server.cert, key: p.server.key, ...options }, (engine) => {
    engine.onsecure = () => {
      engine.write(`${engine.info().resumed ? 'resumed' : 'full'} ${engine.info().protocol}\n`);
      engine.end();
    };
  });
}

export function tls12Client(p: Pki): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(p.ca.cert);
  ctx.set_protocol_versions(TLS1_2_VERSION, TLS1_2_VERSION);
  return ctx;
}

export interface RedisServer {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** True when Debian's redis-server is installed. */
export const redisFound = spawnSync('redis-server', ['--version']).status === 0;

/** redis-server on 127.0.0.1:port, no persistence; resolves once it accepts connections. */
export async function startRedis(port: number): Promise<RedisServer> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const check = (d: Buffer) => {
        out += d;
        if (out.includes('Ready to accept connections')) resolve();
      };
      proc.stdout!.on('data', check);
      proc.stderr!.on('data', check);
      proc.once('close', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    }),
    10_000,
    'redis-server start',
  );
  return {
    port,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await withTimeout(exited, 10_000, 'redis-server stop');
    },
  };
}
