// TlsConnection: what a pipeline sees of one handshaken connection. The
// core connection under it (a TlsEngine or a NativeTlsConnection, see
// link.ts) stays in a private field, reached by read() and write() through
// stateOf(); nothing in the public surface hands it out. (A private field,
// not a WeakMap: the WeakMap's per-connection entry showed in handshake
// profiles as ephemeron write barriers and inserts.)
import { inspect } from 'node:util';

import {
  authorizationErrorOf,
  ClosedError,
  InvalidArgumentError,
  StateError,
  TlsEngine,
  type CertificateError,
  type CertificateSummary,
  type SessionInfo,
  type TlsError,
} from '@rxtls/core';

import { endpointsOf, whenFlushed, type Link, type VerifyOutcome } from './link.js';

/** Receives what read() delivers. */
export interface ReaderSink {
  next(chunk: Buffer): void;
  /** The stream ended: `error` undefined for a clean end. */
  end(error: TlsError | undefined): void;
}

/** @internal Per-connection state shared by read(), write() and the link's handlers. */
export interface ConnectionState {
  readonly link: Link;
  /** Plaintext that arrived while no reader was attached. Bounded: the link is paused meanwhile. */
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
  /** The writer waiting for the link's `ondrain` (one writer per connection: one slot). Cleared before it is called. */
  onDrain: (() => void) | undefined;
  /** Told once when the connection fails or closes (write() waits on this); one per writer. */
  readonly closeListeners: Array<(error: TlsError | undefined) => void>;
  /** Client: the latest resumable session (the link's `onsession`). */
  session: Buffer | null;
  /** The peer's certificate; a post-handshake authentication replaces it. */
  peerCertificate: CertificateSummary | null;
  /** The verify result that goes with `peerCertificate`. */
  verify: VerifyOutcome;
  /** Why the peer is not authorized, or null; made from `verify` on first use (undefined until then). */
  authorizationError: CertificateError | null | undefined;
  /** Server: the post-handshake authentication waiting for the client's answer. */
  pha: { resolve(cert: CertificateSummary | null): void; reject(err: Error): void } | undefined;
}

const kCreate = Symbol('TlsConnection.create');
// Set by TlsConnection's static block: the module reads the private field through it.
let stateField: (conn: TlsConnection) => ConnectionState | undefined;

/**
 * One TLS connection whose handshake is done, as emitted by `listen()` and
 * `connect()`. Read it with `read(conn)`, write it with `write(conn)`.
 *
 * The connection is its subscriber's to close: through `write(conn)`
 * completing (close_notify) or being unsubscribed (destroyed), through
 * `read(conn)` being unsubscribed early (destroyed), or through `close()`.
 *
 * Facts of the handshake (`protocol`, `cipher`, `alpnProtocol`, `resumed`,
 * `servername`) are read once it is done and stay readable after close; the
 * methods that ask the live session (`peerCertificateChain`,
 * `exportKeyingMaterial`, `verifyClientPostHandshake`) need an open
 * connection.
 *
 * @example
 * connect({ port, ca }).subscribe((conn) => {
 *   console.log(conn.protocol, conn.cipher, conn.alpnProtocol, conn.peerCertificate?.subjectName);
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
  /** The ALPN protocol both sides agreed on (e.g. `h2`), or null when none was. */
  readonly alpnProtocol: string | null;
  /** True when the handshake resumed an earlier session (a ticket or the server's cache) instead of a full one. */
  readonly resumed: boolean;
  readonly #state: ConnectionState;

  static {
    stateField = (conn) => (#state in conn ? conn.#state : undefined);
  }

  /** @internal Made by listen() and connect() only. */
  constructor(token: typeof kCreate, link: Link, info: SessionInfo, state: ConnectionState) {
    if (token !== kCreate) throw new InvalidArgumentError('TlsConnection is made by listen() and connect()');
    this.#state = state;
    const ends = endpointsOf(link);
    this.remoteAddress = ends.remoteAddress;
    this.remotePort = ends.remotePort;
    this.localAddress = ends.localAddress;
    this.localPort = ends.localPort;
    this.isServer = info.isServer;
    this.protocol = info.protocol ?? '';
    this.cipher = info.cipher ?? '';
    this.servername = info.servername;
    this.alpnProtocol = info.alpnProtocol;
    this.resumed = info.resumed;
  }

  /** True once the connection has closed (cleanly or not). */
  get closed(): boolean {
    return this.#state.closed;
  }

  /**
   * The peer's certificate, or null when it sent none (a client, usually).
   * On a server, a completed `verifyClientPostHandshake()` sets it.
   */
  get peerCertificate(): CertificateSummary | null {
    return this.#state.peerCertificate;
  }

  /**
   * The peer sent a certificate and it verified (core's `authorized`).
   * A server listening with `requestCert: 'unverified'` serves every client
   * and decides from this, `authorizationError` and `peerCertificate`.
   * Readable after close; a post-handshake authentication updates it.
   */
  get authorized(): boolean {
    return authorizationOf(this.#state) === null;
  }

  /**
   * Why the peer is not `authorized`, or null: a CertificateError with
   * OpenSSL's `verifyCode` / `verifyMessage` (e.g. 18, a self-signed
   * certificate), or without `verifyCode` when the peer sent no certificate.
   */
  get authorizationError(): CertificateError | null {
    return authorizationOf(this.#state);
  }

  /**
   * Client: the latest session this connection can be resumed from, or null
   * while there is none (always null on a server). Pass it as `session` to a
   * later `connect()`; `resumed` on that connection says whether the server
   * accepted it.
   *
   * Under TLS 1.3 the server sends its tickets after the handshake, with the
   * data, so this is null when the connection is emitted and is set (and
   * replaced by each newer ticket) while the connection is read: take it
   * once you have read something, or after `read(conn)` completed. Under
   * TLS 1.2 it is set from the start. It holds the resumption secret: keep
   * it as secret as a key.
   *
   * @example
   * const first = await firstValueFrom(connect(opts));
   * await lastValueFrom(read(first), { defaultValue: undefined }); // the tickets arrive with the data
   * const again = await firstValueFrom(connect({ ...opts, session: first.session! }));
   * again.resumed; // true
   */
  get session(): Buffer | null {
    return this.#state.session;
  }

  /**
   * The peer's certificates, leaf first: as the peer sent them, or with
   * `verified` the chain OpenSSL built and verified, up to the trust anchor.
   * Empty when the peer sent no certificate.
   * @param verified Return the verified chain instead of the one sent. Default false.
   * @throws ClosedError once the connection has closed.
   * @example
   * conn.peerCertificateChain(true).map((c) => c.subjectName);
   */
  peerCertificateChain(verified = false): CertificateSummary[] {
    return liveLink(this).peerCertificateChain(verified);
  }

  /**
   * Keying material derived from the connection's secrets (RFC 5705, RFC
   * 8446 §7.5): `length` bytes for `label` and the optional `context`, the
   * same on both sides of this connection and unpredictable to anyone else.
   * For channel binding, or keys of a protocol run inside the connection.
   * @param length Bytes to derive.
   * @param label A label the protocol using it defines (e.g. `EXPORTER-my-protocol`).
   * @param context Optional per-use context; without it, a different value than with an empty one.
   * @throws ClosedError once the connection has closed; InvalidArgumentError for a bad argument.
   * @example
   * const binding = conn.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding');
   */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array | string): Buffer {
    return liveLink(this).exportKeyingMaterial(length, label, context);
  }

  /**
   * Server, TLS 1.3: asks the client for its certificate now (post-handshake
   * authentication), and resolves with it, or with null when the client sent
   * none; `peerCertificate` is then that certificate. The client must have
   * offered post-handshake authentication (`openssl s_client -enable_pha`,
   * rxtls `postHandshakeAuth`, on by default for a client with a certificate).
   *
   * The server context's verify mode applies: with `SSL_VERIFY_PEER` the
   * certificate is verified against `ca` and a bad one fails the connection;
   * add `SSL_VERIFY_FAIL_IF_NO_PEER_CERT` to fail it when the client sends
   * none; with `SSL_VERIFY_POST_HANDSHAKE` the handshake itself asks for no
   * certificate. Meanwhile, what is written waits (OpenSSL cannot send data
   * during the exchange) and the connection reads even when paused, to see
   * the answer.
   * @returns The client's certificate, or null.
   * @throws (rejects) StateError on a client, under TLS 1.2, when the client
   *   did not offer it, or while another one runs; the connection's error if
   *   it fails meanwhile; ClosedError once it has closed.
   * @example
   * const cert = await conn.verifyClientPostHandshake();
   * console.log(cert?.subject.CN ?? 'no certificate');
   */
  async verifyClientPostHandshake(): Promise<CertificateSummary | null> {
    const st = this.#state;
    if (!this.isServer) throw new StateError('only a server asks for a certificate after the handshake');
    if (st.pha) throw new StateError('a post-handshake authentication is already running');
    liveLink(this).verifyClientPostHandshake();
    return new Promise<CertificateSummary | null>((resolve, reject) => {
      st.pha = { resolve, reject };
      updatePause(st);
    });
  }

  /**
   * Sends close_notify after whatever was written, then closes the socket once
   * that is flushed. Data the peer sends afterwards is discarded; a running
   * `read()` completes. Idempotent.
   */
  close(): void {
    const st = this.#state;
    if (st.closed) return;
    st.localClose = true;
    const { link } = st;
    link.end();
    // Without waiting for the peer's answer: what it sends now is discarded.
    whenFlushed(link, () => link.destroy());
  }

  /** Closes at once, without close_notify (the peer sees a truncated stream). Idempotent. */
  destroy(): void {
    const st = this.#state;
    if (st.closed) return;
    st.localClose = true;
    st.link.destroy();
  }

  [inspect.custom](): string {
    return `TlsConnection { ${this.remoteAddress}:${this.remotePort} ${this.protocol} ${this.cipher}${this.closed ? ' closed' : ''} }`;
  }
}

/** Made when first asked for: most connections never are, and an error costs its stack trace. */
function authorizationOf(st: ConnectionState): CertificateError | null {
  // Core's rule over what was kept while the session was alive.
  return (st.authorizationError ??= authorizationErrorOf({ info: () => st.verify, peerCertificate: () => st.peerCertificate }));
}

/** The link of an open connection; its native session is freed once the socket closed. */
function liveLink(conn: TlsConnection): Link {
  const st = stateField(conn)!;
  if (st.error) throw st.error;
  if (st.closed || st.link.closed) throw new ClosedError('the connection is closed');
  return st.link;
}

/**
 * @internal Checks the options shared by listen() and connect(); core checks
 * their fields (`idleTimeout`, …) as createTlsServer/connectTls take them.
 */
export function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Expected "options" to be an object');
}

/** @internal The state behind a connection; throws for anything else. */
export function stateOf(conn: TlsConnection): ConnectionState {
  const st = conn instanceof TlsConnection ? stateField(conn) : undefined;
  if (!st) throw new InvalidArgumentError('Expected "conn" to be a TlsConnection from listen() or connect()');
  return st;
}

/** @internal Pauses the link while nobody reads or a writer downstream asks to; resumes otherwise. */
export function updatePause(st: ConnectionState): void {
  if (st.closed) return;
  // After the peer's close_notify nothing is left to hold back, and the
  // socket must go on reading to see the peer's FIN and close. During a
  // post-handshake authentication it must read to see the client's answer
  // (what else arrives meanwhile is one round trip's worth).
  const want =
    !st.peerEnded && st.error === undefined && st.pha === undefined && (st.reader === undefined || st.demandPauses > 0);
  if (want === st.paused) return;
  st.paused = want;
  if (want) st.link.pause();
  else st.link.resume();
}

/** @internal Calls `listener` once when the connection fails or closes; returns its remover. */
export function listenClose(st: ConnectionState, listener: (error: TlsError | undefined) => void): () => void {
  st.closeListeners.push(listener);
  return () => {
    const i = st.closeListeners.indexOf(listener);
    if (i >= 0) st.closeListeners.splice(i, 1);
  };
}

function notifyClose(st: ConnectionState, error: TlsError | undefined): void {
  const pha = st.pha;
  st.pha = undefined;
  pha?.reject(error ?? new ClosedError('the connection closed during post-handshake authentication'));
  for (const l of st.closeListeners.splice(0)) l(error);
}

/** Ends the reader once its buffered chunks are out. */
function endReader(st: ConnectionState): void {
  const reader = st.reader;
  if (!reader || st.chunks.length > 0) return;
  if (st.error) reader.end(st.error);
  else if (st.peerEnded || st.closed) reader.end(undefined);
}

/**
 * @internal Wraps a handshaken link: takes over its handlers and pauses it
 * until a reader attaches. (The link arms the idle timeout itself.)
 */
export function createConnection(link: Link): TlsConnection {
  const info = link.info();
  const st: ConnectionState = {
    link,
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
    onDrain: undefined,
    closeListeners: [],
    // Under TLS 1.2 the session is resumable from the handshake on.
    session: info.isServer ? null : link.getSession(),
    // Read now: the native session is freed when the socket closes.
    peerCertificate: link.peerCertificate(),
    verify: info,
    authorizationError: undefined,
    pha: undefined,
  };
  const conn = new TlsConnection(kCreate, link, info, st);
  link.ondata = (chunk) => {
    if (st.reader && st.chunks.length === 0) st.reader.next(chunk);
    else {
      st.chunks.push(chunk);
      if (!st.paused) updatePause(st);
    }
  };
  link.ondrain = () => {
    const waiter = st.onDrain;
    st.onDrain = undefined;
    waiter?.();
  };
  link.onend = () => {
    st.peerEnded = true;
    endReader(st);
    updatePause(st);
  };
  link.onerror = (err) => {
    if (st.error) return;
    st.error = err;
    endReader(st);
    notifyClose(st, err);
  };
  link.onclose = (err) => {
    st.closed = true;
    st.onDrain = undefined;
    // An error on a connection nobody is watching any more is no failure.
    if (err && !st.error && !st.localClose) st.error = err;
    endReader(st);
    notifyClose(st, st.error);
  };
  // Chained: whoever set onsession before (core, a wrapper) still hears it.
  const previousOnSession = link.onsession;
  link.onsession = (session) => {
    st.session = session;
    previousOnSession?.(session);
  };
  link.onpeercertificate = (certificate) => {
    st.peerCertificate = certificate;
    st.verify = link.info();
    st.authorizationError = undefined;
    const pha = st.pha;
    st.pha = undefined;
    updatePause(st);
    pha?.resolve(certificate);
  };
  // Paused at the end of this turn unless a reader attached meanwhile (the
  // usual `mergeMap((c) => read(c)…)`), which so costs no pause and resume.
  // Data that arrives first pauses it at once (ondata above).
  queueMicrotask(() => updatePause(st));
  return conn;
}
