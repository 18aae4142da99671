// Many cores on one address: a primary process runs N worker processes
// (node:cluster), each a full rxtls server. On the native transport each
// worker binds its own listener with SO_REUSEPORT (`reusePort: true`) and the
// kernel spreads connections over them; on the JS transport node:cluster
// shares the primary's listening handle. Workers share one ticket secret, so
// any of them resumes another's tickets. A worker that dies is restarted; a
// worker that stops on purpose is replaced at once; SIGTERM/SIGINT to the
// primary shuts every worker down gracefully.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Server as NetServer, Socket } from 'node:net';

import { InvalidArgumentError, StateError } from './errors.js';
import type { NativeTlsServer } from './native-transport.js';
import { deriveTicketKey } from './ticket-rotation.js';

/** The environment variable a worker finds the fleet's ticket secret in (hex). */
export const TICKET_SECRET_ENV = 'RXTLS_TICKET_SECRET';

type Message = { rxtls: 'listening'; port: number } | { rxtls: 'stopping' } | { rxtls: 'shutdown'; graceMs: number };

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { rxtls?: unknown }).rxtls === 'string';
}

/** Options of `runWorkers` (in the primary). */
export interface RunWorkersOptions {
  /** How many worker processes (1 to 256). */
  workers: number;
  /** The worker's module (a path). It makes its server and calls `serveWorker`. Default: the primary's own script. */
  entry?: string;
  /** Arguments for the workers' script. */
  args?: ReadonlyArray<string>;
  /** Node options for the workers. Default: the primary's (`--import tsx` carries over). */
  execArgv?: ReadonlyArray<string>;
  /** Extra environment for the workers. */
  env?: Readonly<Record<string, string>>;
  /** The shared ticket secret (at least 32 bytes, or hex). Default: 32 random bytes, made once for the fleet. */
  ticketSecret?: Uint8Array | string;
  /** Milliseconds a stopping worker gives its open connections. Default 10 000. */
  graceMs?: number;
  /** Milliseconds before a worker that died is started again. Default 200. */
  restartDelayMs?: number;
  /** Shut down on SIGTERM and SIGINT. Default true. */
  handleSignals?: boolean;
  /** Every worker of the first start is listening (once). */
  onListening?: (port: number, pids: number[]) => void;
  /** A worker (of the first start, a restart or a replacement) reported its server listening. */
  onWorkerListening?: (pid: number, port: number) => void;
  /** A worker exited; `restarted`: a new one takes its place. */
  onWorkerExit?: (pid: number, code: number | null, signal: string | null, restarted: boolean) => void;
}

/** The primary's handle on its workers. */
export interface WorkerFleet {
  /** Resolves with the port once every worker of the first start listens; rejects if one exits before. */
  readonly ready: Promise<number>;
  /** The pids of the live workers. */
  readonly pids: number[];
  /** Graceful shutdown of every worker (each gets `graceMs`); resolves when all have exited. */
  shutdown(): Promise<void>;
}

/**
 * Runs `workers` processes of `entry` (the primary's own script by default)
 * and keeps that many alive. Call it in the primary (`cluster.isPrimary`);
 * each worker makes its server and calls `serveWorker(server)`.
 *
 * @example
 * if (cluster.isPrimary) runWorkers({ workers: 4, onListening: (port) => console.log('listening', port) });
 * else serveWorker(createTlsServer({ transport: 'native', reusePort: true, ticketSecret: workerTicketSecret(), cert, key }, echo).listen(8443));
 */
export function runWorkers(options: RunWorkersOptions): WorkerFleet {
  if (!cluster.isPrimary) throw new StateError('runWorkers is called in the primary process');
  const n = options.workers;
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('Expected "workers" to be an integer from 1 to 256');
  const graceMs = options.graceMs ?? 10_000;
  if (!Number.isInteger(graceMs) || graceMs < 0) throw new InvalidArgumentError('Expected "graceMs" to be an integer of milliseconds, 0 or more');
  const restartDelayMs = options.restartDelayMs ?? 200;
  if (!Number.isInteger(restartDelayMs) || restartDelayMs < 0) throw new InvalidArgumentError('Expected "restartDelayMs" to be an integer of milliseconds, 0 or more');
  const secret =
    options.ticketSecret === undefined
      ? randomBytes(32).toString('hex')
      : typeof options.ticketSecret === 'string'
        ? options.ticketSecret
        : Buffer.from(options.ticketSecret).toString('hex');
  deriveTicketKey(secret, 0); // checks it here rather than in every worker
  cluster.setupPrimary({
    ...(options.entry !== undefined ? { exec: options.entry } : {}),
    args: [...(options.args ?? [])],
    execArgv: [...(options.execArgv ?? process.execArgv)],
  });

  const live = new Set<Worker>();
  const stopping = new Set<Worker>(); // told to stop, or stopping on their own: not restarted
  let started = 0;
  let shuttingDown = false;
  let initial = true;
  let resolveReady!: (port: number) => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<number>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  ready.catch(() => undefined); // a caller that never awaits it is not an unhandled rejection
  let exited: (() => void) | undefined;

  const fork = (): void => {
    const worker = cluster.fork({ ...process.env, ...options.env, [TICKET_SECRET_ENV]: secret });
    const pid = worker.process.pid!;
    let listened = false;
    live.add(worker);
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.rxtls === 'listening' && !listened) {
        listened = true;
        options.onWorkerListening?.(pid, m.port);
        if (initial && ++started === n) {
          initial = false;
          options.onListening?.(m.port, [...live].map((w) => w.process.pid!));
          resolveReady(m.port);
        }
      } else if (m.rxtls === 'stopping' && !stopping.has(worker)) {
        // Stopping on its own (SIGTERM to that worker): its replacement starts
        // now, unless the signal went to the whole process group (Ctrl-C,
        // timeout(1)): the primary's own arrives within moments.
        stopping.add(worker);
        setTimeout(() => !shuttingDown && fork(), 100);
      }
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      const planned = stopping.delete(worker) || shuttingDown;
      if (!listened && initial && !shuttingDown) {
        // A worker that cannot start (EADDRINUSE, a bad certificate): no restart loop.
        rejectReady(new StateError(`worker ${pid} exited (${signal ?? code}) before it listened`));
        options.onWorkerExit?.(pid, code, signal, false);
        void shutdown();
        return;
      }
      const restart = !planned;
      options.onWorkerExit?.(pid, code, signal, restart);
      if (restart) setTimeout(() => !shuttingDown && fork(), restartDelayMs);
      if (live.size === 0) exited?.();
    });
  };

  let done: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    if (done) return done;
    shuttingDown = true;
    if (initial) rejectReady(new StateError('the fleet was shut down before every worker listened'));
    removeSignals();
    done = new Promise<void>((resolve) => {
      if (live.size === 0) return resolve();
      exited = resolve;
      for (const w of live) if (w.isConnected()) w.send({ rxtls: 'shutdown', graceMs } satisfies Message);
      // A worker that does not finish in time (its grace plus 5 s) is killed.
      const kill = setTimeout(() => live.forEach((w) => w.process.kill('SIGKILL')), graceMs + 5000);
      kill.unref();
    });
    return done;
  };

  const onSignal = (): void => void shutdown();
  const removeSignals = (): void => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
  if (options.handleSignals ?? true) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  for (let i = 0; i < n; i++) fork();
  return {
    ready,
    get pids() {
      return [...live].map((w) => w.process.pid!);
    },
    shutdown,
  };
}

/** In a worker: the fleet's shared ticket secret (hex), as `runWorkers` passed it. */
export function workerTicketSecret(): string {
  const s = process.env[TICKET_SECRET_ENV];
  if (s === undefined) throw new StateError(`${TICKET_SECRET_ENV} is not set: is this a worker of runWorkers?`);
  return s;
}

/** Options of `serveWorker`. */
export interface ServeWorkerOptions {
  /** Milliseconds open connections get when this worker stops on its own signal. Default 10 000 (the primary sends its own). */
  graceMs?: number;
  /** Called when the worker starts stopping (before the grace period). */
  onStopping?: () => void;
}

/**
 * In a worker: reports `server` to the primary once it listens, and stops it
 * gracefully (no new connections, open ones get the grace period, then the
 * process exits) when the primary says so or on SIGTERM/SIGINT. A native
 * server uses `shutdown(graceMs)`; a net.Server (the JS transport) closes
 * and destroys the sockets still open at the deadline.
 */
export function serveWorker(server: NativeTlsServer | NetServer, options: ServeWorkerOptions = {}): void {
  const sockets = 'shutdown' in server ? undefined : trackSockets(server);
  const report = (): void => {
    const a = server.address();
    if (a !== null && typeof a === 'object') process.send?.({ rxtls: 'listening', port: a.port } satisfies Message);
  };
  if (server.listening) report();
  else server.once('listening', report);
  let stopping = false;
  const stop = (graceMs: number): void => {
    if (stopping) return;
    stopping = true;
    process.send?.({ rxtls: 'stopping' } satisfies Message);
    options.onStopping?.();
    const closed = 'shutdown' in server ? server.shutdown(graceMs) : closeNet(server, sockets!, graceMs);
    void closed.then(() => process.exit(0));
  };
  process.on('message', (m: unknown) => {
    if (isMessage(m) && m.rxtls === 'shutdown') stop(m.graceMs);
  });
  const onSignal = (): void => stop(options.graceMs ?? 10_000);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

function trackSockets(server: NetServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return sockets;
}

function closeNet(server: NetServer, sockets: Set<Socket>, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => sockets.forEach((s) => s.destroy()), graceMs);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      resolve();
    });
  });
}
