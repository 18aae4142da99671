// Test fleets: members in child processes (fleet-server.ts) and a client
// that reports what a member answered and the session it got.
import { spawn, type ChildProcess } from 'node:child_process';

import { connectTls, type ClientOptions, type Transport } from '@rxtls/core';

import { withTimeout } from './net.js';
import type { Pki } from './pki.js';

export interface Member {
  port: number;
  proc: ChildProcess;
  /** Messages of connections the member refused (PROXY protocol). */
  refused: string[];
  /** Manual clock: sets it, returns the window the member is then in. */
  setClock(now: number): Promise<number>;
  stop(): Promise<void>;
}

export interface MemberOptions {
  secret: string;
  windowMs?: number;
  manualClock?: boolean;
  proxy?: boolean;
  /** Sessions in the Redis at this port (the session store) instead of tickets from `secret`. */
  redisPort?: number;
  /** The member's server transport. Default 'js'. */
  transport?: Transport;
}

/** Starts a member; resolves once it listens. */
export async function startMember(p: Pki, o: MemberOptions): Promise<Member> {
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('./fleet-server.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      RXTLS_CERT: p.server.cert,
      RXTLS_KEY: p.server.key,
      RXTLS_TICKET_SECRET: o.secret,
      ...(o.windowMs ? { RXTLS_WINDOW_MS: String(o.windowMs) } : {}),
      ...(o.manualClock ? { RXTLS_CLOCK: 'manual' } : {}),
      ...(o.proxy ? { RXTLS_PROXY: '1' } : {}),
      ...(o.redisPort ? { RXTLS_REDIS_PORT: String(o.redisPort) } : {}),
      RXTLS_TRANSPORT: o.transport ?? 'js',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const refused: string[] = [];
  const waiting: Array<(w: number) => void> = [];
  proc.on('message', (m: { refused?: string; window?: number }) => {
    if (m.refused !== undefined) refused.push(m.refused);
    if (m.window !== undefined) waiting.shift()?.(m.window);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      proc.on('message', (m: { port?: number }) => m.port !== undefined && resolve(m.port));
      proc.once('exit', (code) => reject(new Error(`fleet member exited (${code})`)));
    }),
    30_000,
    'fleet member start',
  );
  return {
    port,
    proc,
    refused,
    setClock: (now) =>
      withTimeout(
        new Promise<number>((resolve) => {
          waiting.push(resolve);
          proc.send({ now });
        }),
        10_000,
        'fleet member clock',
      ),
    async stop() {
      if (proc.connected) proc.disconnect();
      await withTimeout(exited, 10_000, 'fleet member stop');
    },
  };
}

export interface Visit {
  /** The member's answer: `<resumed|full> @<server port> <client address>:<client port> <window>`. */
  answer: string;
  resumed: boolean;
  session: Buffer | null;
  /** The client's own address and port, as the client sees them. */
  local: string;
}

/** Connects, waits for the member's answer, the close and (TLS 1.3) the ticket. */
export async function visit(options: ClientOptions): Promise<Visit> {
  // The client is the JS transport's (its socket says where it connected from).
  const engine = connectTls({ ...options, transport: 'js' });
  let answer = '';
  let resumed = false;
  let session: Buffer | null = null;
  let local = '';
  engine.onsecure = () => {
    resumed = engine.info().resumed;
    // The JS transport's socket, or the native connection itself.
    const s = 'socket' in engine ? engine.socket : engine;
    local = `${s.localAddress}:${s.localPort}`;
  };
  engine.onsession = (s) => (session = s);
  engine.ondata = (d) => (answer += d.toString());
  const error = await withTimeout(new Promise((resolve) => (engine.onclose = resolve)), 15_000, 'fleet visit');
  if (error) throw error;
  return { answer: answer.trim(), resumed, session, local };
}
