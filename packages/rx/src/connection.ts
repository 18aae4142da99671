// TlsConnection: what a pipeline sees of one handshaken connection. The
// engine stays behind a module-private WeakMap, reached by read() and write()
// through stateOf(); nothing in the public surface hands it out.
import { inspect } from 'node:util';

import { InvalidArgumentError, TimeoutError, type CertificateSummary, type TlsEngine, type TlsError } from '@rxtls/core';

/** Receives what read() delivers. */
export interface ReaderSink {
  next(chunk: Buffer): void;
  /** The stream ended: `error` undefined for a clean end. */
  end(error: TlsError | undefined): void;
}

/** @internal Per-connection state shared by read(), write() and the engine handlers. */
export interface ConnectionState {
  readonly engine: TlsEngine;
  /** Plaintext that arrived while no reader was attached. Bounded: the socket is paused meanwhile. */
  readonly chunks: Buffer[];
  /** The peer's close_notify arrived. */
  peerEnded: boolean;
  /** The first error, once the connection failed. */
  error: TlsError | undefined;
  closed: boolean;
  /** close() or destroy() was called here: a reader completes instead of reporting truncation. */
  localClose: boolean;
  reader: ReaderSink | undefined;
  readerClaimed: boolean;
  writerClaimed: boolean;
  /** How many writers' flow controllers currently ask this connection to pause. */
  demandPauses: number;
  /** Whether the socket is paused now. */
  paused: boolean;
  /** Told once when the connection fails or closes (write() waits on this). */
  readonly closeListeners: Set<(error: TlsError | undefined) => void>;
}

const states = new WeakMap<TlsConnection, ConnectionState>();
const kCreate = Symbol('TlsConnection.create');

/**
 * One TLS connection whose handshake is done, as emitted by `listen()` and
 * `connect()`. Read it with `read(conn)`, write it with `write(conn)`.
 *
 * The connection is its subscriber's to close: through `write(conn)`
 * completing (close_notify) or being unsubscribed (destroyed), through
 * `read(conn)` being unsubscribed early (destroyed), or through `close()`.
 *
 * @example
 * connect({ port, ca }).subscribe((conn) => {
 *   console.log(conn.protocol, conn.cipher, conn.peerCertificate?.subjectName);
 *   conn.close();
 * });
 */
export class TlsConnection {
  /** The peer's IP address. */
  readonly remoteAddress: string | undefined;
  /** The peer's port. */
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** True when this side accepted the connection (from `listen()`). */
  readonly isServer: boolean;
  /** Negotiated protocol, e.g. `TLSv1.3`. */
  readonly protocol: string;
  /** Negotiated cipher, OpenSSL's name, e.g. `TLS_AES_256_GCM_SHA384`. */
  readonly cipher: string;
  /** The SNI name the client sent, if any. */
  readonly servername: string | null;
  /** The peer's certificate, or null when it sent none (a client, usually). */
  readonly peerCertificate: CertificateSummary | null;

  /** @internal Made by listen() and connect() only. */
  constructor(token: typeof kCreate, engine: TlsEngine) {
    if (token !== kCreate) throw new InvalidArgumentError('TlsConnection is made by listen() and connect()');
    const socket = engine.socket;
    const info = engine.info();
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
    this.isServer = info.isServer;
    this.protocol = info.protocol ?? '';
    this.cipher = info.cipher ?? '';
    this.servername = info.servername;
    // Read now: the native session is freed when the socket closes.
    this.peerCertificate = engine.peerCertificate();
  }

  /** True once the connection has closed (cleanly or not). */
  get closed(): boolean {
    return states.get(this)!.closed;
  }

  /**
   * Sends close_notify after whatever was written, then closes the socket once
   * that is flushed. Data the peer sends afterwards is discarded; a running
   * `read()` completes. Idempotent.
   */
  close(): void {
    const st = states.get(this)!;
    if (st.closed) return;
    st.localClose = true;
    const { engine } = st;
    const socket = engine.socket;
    engine.end();
    if (socket.writableFinished || socket.destroyed) engine.destroy();
    else socket.once('finish', () => engine.destroy());
  }

  /** Closes at once, without close_notify (the peer sees a truncated stream). Idempotent. */
  destroy(): void {
    const st = states.get(this)!;
    if (st.closed) return;
    st.localClose = true;
    st.engine.destroy();
  }

  [inspect.custom](): string {
    return `TlsConnection { ${this.remoteAddress}:${this.remotePort} ${this.protocol} ${this.cipher}${this.closed ? ' closed' : ''} }`;
  }
}

/** @internal Checks the options shared by listen() and connect(). */
export function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Expected "options" to be an object');
  const { idleTimeout } = options as { idleTimeout?: unknown };
  if (idleTimeout !== undefined && (typeof idleTimeout !== 'number' || !(idleTimeout >= 0) || !Number.isFinite(idleTimeout)))
    throw new InvalidArgumentError('Expected "idleTimeout" to be a number of milliseconds, 0 or more');
}

/** @internal The state behind a connection; throws for anything else. */
export function stateOf(conn: TlsConnection): ConnectionState {
  const st = conn instanceof TlsConnection ? states.get(conn) : undefined;
  if (!st) throw new InvalidArgumentError('Expected "conn" to be a TlsConnection from listen() or connect()');
  return st;
}

/** Pauses the socket while nobody reads or a writer downstream asks to; resumes otherwise. */
export function updatePause(st: ConnectionState): void {
  if (st.closed) return;
  // After the peer's close_notify nothing is left to hold back, and the
  // socket must go on reading to see the peer's FIN and close.
  const want = !st.peerEnded && st.error === undefined && (st.reader === undefined || st.demandPauses > 0);
  if (want === st.paused) return;
  st.paused = want;
  if (want) st.engine.pause();
  else st.engine.resume();
}

function notifyClose(st: ConnectionState, error: TlsError | undefined): void {
  const listeners = [...st.closeListeners];
  st.closeListeners.clear();
  for (const l of listeners) l(error);
}

/** Ends the reader once its buffered chunks are out. */
function endReader(st: ConnectionState): void {
  const reader = st.reader;
  if (!reader || st.chunks.length > 0) return;
  if (st.error) reader.end(st.error);
  else if (st.peerEnded || st.closed) reader.end(undefined);
}

/**
 * @internal Wraps a handshaken engine: takes over its handlers, pauses its
 * socket until a reader attaches, and arms the idle timeout.
 */
export function createConnection(engine: TlsEngine, idleTimeout = 0): TlsConnection {
  const conn = new TlsConnection(kCreate, engine);
  const st: ConnectionState = {
    engine,
    chunks: [],
    peerEnded: false,
    error: undefined,
    closed: false,
    localClose: false,
    reader: undefined,
    readerClaimed: false,
    writerClaimed: false,
    demandPauses: 0,
    paused: false,
    closeListeners: new Set(),
  };
  states.set(conn, st);
  engine.ondata = (chunk) => {
    if (st.reader && st.chunks.length === 0) st.reader.next(chunk);
    else st.chunks.push(chunk);
  };
  engine.onend = () => {
    st.peerEnded = true;
    endReader(st);
    updatePause(st);
  };
  engine.onerror = (err) => {
    if (st.error) return;
    st.error = err;
    endReader(st);
    notifyClose(st, err);
  };
  engine.onclose = (err) => {
    st.closed = true;
    // An error on a connection nobody is watching any more is no failure.
    if (err && !st.error && !st.localClose) st.error = err;
    endReader(st);
    notifyClose(st, st.error);
  };
  if (idleTimeout > 0) {
    engine.socket.setTimeout(idleTimeout, () =>
      engine.destroy(new TimeoutError(`connection idle for more than ${idleTimeout} ms`)),
    );
  }
  updatePause(st);
  return conn;
}
