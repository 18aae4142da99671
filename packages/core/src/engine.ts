// TlsEngine: pumps ciphertext between one net.Socket and one native session.
// It is the hot path: per chunk that arrives it makes one native call and
// allocates nothing of its own; handlers are plain properties, not events.
import { Socket as NetSocket, type Socket } from 'node:net';

import { authorizationErrorOf } from './authorization.js';
import { encodeAlpn } from './context-features.js';
import { DrainSignal } from './drain.js';
import {
  ClosedError,
  HandshakeError,
  InvalidArgumentError,
  ProtocolError,
  StateError,
  TimeoutError,
  TlsError,
  CertificateError,
  TruncationError,
  socketError,
} from './errors.js';
import { kNative } from './internal.js';
import {
  binding,
  CycleFlag,
  type CertificateSummary,
  type NativeSession,
  type SessionInfo,
  type SessionOptions,
  type SessionOut,
} from './native.js';
import type { SecureConnection } from './secure-connection.js';
import {
  checkSessionStore,
  checkSessionStoreTimeout,
  DEFAULT_SESSION_STORE_TIMEOUT,
  enableSessionStore,
  forgetSession,
  keepSessions,
  lookupSession,
  type SessionStore,
} from './session-store.js';
import { SSLContext } from './ssl-context.js';

export interface TlsEngineOptions {
  /** Server (accept) or client (connect) side. */
  isServer: boolean;
  /** Client: SNI to send. Ignored for IP addresses. */
  servername?: string;
  /** Client: the host name or IP the server certificate must match. */
  verifyHost?: string;
  /** Client: verify the server (default true unless the context's `set_verify` was called). */
  verifyPeer?: boolean;
  /** Milliseconds the handshake may take before the connection is dropped. Default 10 000; 0 disables. */
  handshakeTimeout?: number;
  /**
   * Milliseconds an established connection may go without socket activity
   * (nothing read, nothing written) before it is dropped with a TimeoutError.
   * Default 0: no idle timeout.
   */
  idleTimeout?: number;
  /**
   * Keep sending after the peer's close_notify (TLS half-close). Default false:
   * the engine answers close_notify with its own and ends the socket (a write
   * after that throws a ClosedError saying the peer ended the connection).
   */
  allowHalfOpen?: boolean;
  /** Client: ALPN protocols to offer, most preferred first (overrides the context's list). */
  alpnProtocols?: ReadonlyArray<string> | Uint8Array;
  /** Client: a session from `getSession()` (or `onsession`) of an earlier connection, to resume. */
  session?: Uint8Array;
  /**
   * Client: offer TLS 1.3 post-handshake authentication, so the server may
   * ask for the certificate later. Default: when the context has a certificate.
   */
  postHandshakeAuth?: boolean;
  /**
   * Run the handshake's steps (key exchange, signatures, certificate
   * verification) on libuv's thread pool instead of the event loop thread,
   * so that a flood of handshakes neither stalls the loop nor stays on one
   * core. Meant for servers; a client may use it too. Default false.
   *
   * - The steps of one connection still run one at a time, in order; data
   *   that arrives meanwhile waits and is fed after the step.
   * - Records after the handshake are always processed on the loop thread.
   * - When the context has a JS callback OpenSSL calls during the handshake
   *   (`sniCallback` / `set_servername_callback`, `keylog` /
   *   `set_keylog_callback`, also on an `sni` context), the steps stay on the
   *   loop thread: JS cannot run on a worker thread.
   * - While a step runs, `info()`, `peerCertificate()` and the other
   *   session queries throw a StateError; they are meant for after `onsecure`.
   * - Do not reconfigure the context (ticket keys, ALPN list, SNI table)
   *   while offloaded handshakes may be running: worker threads read it.
   * - Steps share the thread pool (`UV_THREADPOOL_SIZE`, default 4) with
   *   `fs`, `dns.lookup` and `crypto`'s async functions.
   * - On `transport: 'native'` the same holds: the connection reads nothing
   *   while its step runs, and what the step wrote (its flight, alerts,
   *   tickets) is sent from the loop thread after it.
   */
  handshakeOffload?: boolean;
  /**
   * Server: resume sessions through this store (shared by servers that
   * should resume each other's sessions) instead of OpenSSL's in-process
   * cache. New sessions are `set` with the session timeout as TTL; a
   * ClientHello that asks to resume one pauses the handshake while it is
   * looked up (`get`). A lookup that fails, throws or outlasts
   * `sessionStoreTimeout` means a full handshake. Covers TLS 1.2 session IDs
   * and, with session tickets off, TLS 1.3 (OpenSSL's stateful tickets are
   * session IDs); with tickets on, clients that use them resume from the
   * ticket instead. Enables the store on the context (`createTlsServer` does
   * this when given the option, and turns tickets off unless `sessionTickets`
   * is given).
   */
  sessionStore?: SessionStore;
  /** Milliseconds a `sessionStore` lookup may take. Default 1000 (`DEFAULT_SESSION_STORE_TIMEOUT`). */
  sessionStoreTimeout?: number;
  /**
   * Client: called once OpenSSL verified the server, before anything queued is
   * sent and before `onsecure`, with the host that was verified (`verifyHost`,
   * else `servername`) and the server's certificate. Returning or throwing an
   * Error fails the connection with a CertificateError whose `cause` it is.
   */
  checkServerIdentity?: (host: string, certificate: CertificateSummary | null) => Error | undefined | void;
}

/** The native options of a session; built only from what was given. */
function sessionOptions(options: TlsEngineOptions): SessionOptions {
  const o: SessionOptions = {};
  if (options.servername !== undefined) o.servername = options.servername;
  if (options.verifyHost !== undefined) o.verifyHost = options.verifyHost;
  if (options.verifyPeer !== undefined) o.verifyPeer = options.verifyPeer;
  if (options.alpnProtocols !== undefined) o.alpnProtocols = encodeAlpn(options.alpnProtocols);
  if (options.session !== undefined) o.session = options.session;
  if (options.postHandshakeAuth !== undefined) o.postHandshakeAuth = options.postHandshakeAuth;
  return o;
}

/** Default for `handshakeTimeout`. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * handshakeOffload: ciphertext the engine holds while a handshake step runs
 * on the pool, at most (a handshake flight). The socket stops reading during
 * a step, so one read (64 KiB) is all that normally arrives; a peer fed in
 * past this (`feed()` called regardless) fails the connection.
 */
export const MAX_HELD_DURING_STEP = 64 * 1024;

/**
 * Checks an `idleTimeout` option (milliseconds, 0 for none).
 * @throws InvalidArgumentError for anything but a finite number, 0 or more.
 */
export function checkIdleTimeout(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError('Expected "idleTimeout" to be a number of milliseconds, 0 or more');
  return value;
}

/** Data `write` accepts; checked before anything reaches the session. */
function checkData(data: unknown): void {
  if (typeof data !== 'string' && !(data instanceof Uint8Array))
    throw new InvalidArgumentError('Expected "data" to be a Buffer, a Uint8Array or a string');
}

/** A queued write keeps its own copy: the caller may reuse its buffer once `write` returned. */
const ownCopy = (data: Buffer | string): Pending => (typeof data === 'string' ? data : Buffer.from(data));

type Pending = Buffer | string;

/**
 * One TLS connection over one `net.Socket`. Set the `on*` handler properties
 * before data can arrive (right after construction).
 *
 * @example
 * const engine = new TlsEngine(socket, ctx, { isServer: true });
 * engine.onsecure = () => engine.write('hello');
 * engine.ondata = (chunk) => console.log(chunk.toString());
 */
export class TlsEngine implements SecureConnection {
  /** The handshake completed. */
  onsecure: (() => void) | undefined = undefined;
  /** Decrypted plaintext, in order. The Buffer is the caller's to keep. */
  ondata: ((chunk: Buffer) => void) | undefined = undefined;
  /** The peer sent close_notify: its data is complete. */
  onend: (() => void) | undefined = undefined;
  /** A fatal error; `onclose` follows. */
  onerror: ((err: TlsError) => void) | undefined = undefined;
  /** The transport closed; `error` is set if the connection failed. */
  onclose: ((error: TlsError | undefined) => void) | undefined = undefined;
  /** The socket's outgoing buffer emptied after `write` returned false: write more. */
  ondrain: (() => void) | undefined = undefined;
  /** After `end()`: everything written, close_notify included, was handed to the kernel (the socket's 'finish'). */
  onfinish: (() => void) | undefined = undefined;
  /**
   * Client: a resumable session arrived (in TLS 1.3 the server's ticket comes
   * after the handshake; it may come twice). A resumed connection gets one
   * only when the server renewed its ticket. Pass it as `session` to a later
   * connection to resume.
   */
  onsession: ((session: Buffer) => void) | undefined = undefined;
  /** Server: the client answered `verifyClientPostHandshake()`; its certificate, or null if it sent none. */
  onpeercertificate: ((certificate: CertificateSummary | null) => void) | undefined = undefined;

  readonly socket: Socket;
  private readonly session_: NativeSession;
  private readonly out_: SessionOut = [undefined, undefined, undefined];
  private secure_ = false;
  private peerEnded_ = false;
  private ended_ = false;
  private closed_ = false;
  private error_: TlsError | undefined = undefined;
  // Writes wait (in pending_) until the handshake is done, and again while a
  // post-handshake authentication runs: OpenSSL cannot write meanwhile.
  private queue_ = true;
  private pha_ = false;
  private pending_: Pending[] | undefined = undefined;
  private endPending_ = false;
  // end() ran because the peer's close_notify arrived (allowHalfOpen off), not because the user called it.
  private endedByPeer_ = false;
  private drain_: DrainSignal | undefined = undefined;
  private timer_: NodeJS.Timeout | undefined = undefined;
  private readonly allowHalfOpen_: boolean;
  private readonly idleTimeout_: number;
  // handshakeOffload: true until the handshake is done. While a step is in
  // flight (inFlight_), arriving ciphertext is copied into held_: the read
  // buffer is shared and the session refuses calls meanwhile.
  private offload_ = false;
  private inFlight_ = false;
  private held_: Buffer[] | undefined = undefined;
  private heldBytes_ = 0;
  // Reading is stopped while a step is in flight; userPaused_ is the caller's own pause(), kept across steps.
  private userPaused_ = false;
  private endHeld_ = false; // the socket's 'end' came during a step: replayed after it
  private onStep_: ((flags: number) => void) | undefined = undefined;
  private readonly checkIdentity_: TlsEngineOptions['checkServerIdentity'];
  private readonly identityHost_: string;
  // Server with a session store: the store, and how long a lookup may take.
  private store_: SessionStore | undefined = undefined;
  private storeTimeout_ = DEFAULT_SESSION_STORE_TIMEOUT;

  /**
   * @param socket A connected (or connecting) socket. The engine owns it from here.
   * @param context The context the session is made from.
   * @param options Role and per-connection settings.
   * @param attachReader False when the caller feeds data itself (a socket made with `onread`).
   */
  constructor(socket: Socket, context: SSLContext, options: TlsEngineOptions, attachReader = true) {
    if (!(socket instanceof NetSocket)) throw new InvalidArgumentError('Expected "socket" to be a net.Socket');
    if (!(context instanceof SSLContext)) throw new InvalidArgumentError('Expected "context" to be an SSLContext');
    if (typeof options !== 'object' || options === null || typeof options.isServer !== 'boolean')
      throw new InvalidArgumentError('Expected "options" to be an object with a boolean "isServer"');
    this.socket = socket;
    this.allowHalfOpen_ = options.allowHalfOpen ?? false;
    this.idleTimeout_ = checkIdleTimeout(options.idleTimeout ?? 0);
    if (options.checkServerIdentity !== undefined && typeof options.checkServerIdentity !== 'function')
      throw new InvalidArgumentError('Expected "checkServerIdentity" to be a function');
    this.checkIdentity_ = options.isServer ? undefined : options.checkServerIdentity;
    this.identityHost_ = options.verifyHost || options.servername || '';
    // TLS half-close needs TCP half-close: otherwise Node ends our side as
    // soon as the peer's FIN arrives, before we could answer.
    socket.allowHalfOpen = this.allowHalfOpen_;
    if (options.sessionStore !== undefined && options.isServer) {
      this.store_ = checkSessionStore(options.sessionStore);
      if (options.sessionStoreTimeout !== undefined) this.storeTimeout_ = checkSessionStoreTimeout(options.sessionStoreTimeout);
      enableSessionStore(context);
    }
    this.session_ = new binding.Session(context[kNative], options.isServer, this.out_, sessionOptions(options));
    if (options.handshakeOffload === true) {
      this.offload_ = true;
      this.onStep_ = (flags) => this.stepDone_(flags);
      // A FIN may overtake a step in flight: Node must not end our side
      // before the engine answered what came before it (onSecure_ restores).
      socket.allowHalfOpen = true;
    }
    if (attachReader) socket.on('data', (chunk: Buffer) => this.feed(chunk, chunk.length));
    socket.on('end', () => this.onSocketEnd_());
    socket.on('error', (err) => this.fail_(socketError(err)));
    socket.on('close', () => this.onSocketClose_());
    socket.on('drain', () => {
      this.drain_?.drained();
      this.ondrain?.();
    });
    const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    if (timeout > 0) {
      this.timer_ = setTimeout(() => this.fail_(new TimeoutError(`TLS handshake timed out after ${timeout} ms`)), timeout);
      this.timer_.unref();
    }
    // A client speaks first; a server waits for the ClientHello.
    if (!options.isServer) {
      if (socket.connecting) socket.once('connect', () => this.feed_(undefined, 0));
      else this.feed_(undefined, 0);
    }
  }

  /** Handshake done and not yet failed or closed. */
  get secure(): boolean {
    return this.secure_;
  }

  /** The peer's close_notify arrived. */
  get peerEnded(): boolean {
    return this.peerEnded_;
  }

  /** The connection has closed (cleanly or not). */
  get closed(): boolean {
    return this.closed_;
  }

  /** The error that ended the connection, if any. */
  get error(): TlsError | undefined {
    return this.error_;
  }

  /** Ciphertext queued in the socket, in bytes: the backpressure signal. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Feeds ciphertext that arrived. For sockets made with `onread`. */
  feed(buffer: Buffer, length: number): void {
    if (this.error_ === undefined && !this.closed_) this.feed_(buffer, length);
  }

  private feed_(buffer: Buffer | undefined, length: number): void {
    // One test on the common path: a paused handshake or offloaded steps.
    if (this.offload_ || this.inFlight_) {
      if (this.inFlight_) this.hold_(buffer, length);
      else this.offloadFeed_(buffer, length);
    } else this.cycle_(buffer, length);
  }

  /** Keeps a chunk that arrived while the handshake waits (a step on the pool, a session store lookup). */
  private hold_(chunk: Buffer | undefined, length: number): void {
    if (chunk === undefined || length <= 0) return;
    this.heldBytes_ += length;
    if (this.heldBytes_ > MAX_HELD_DURING_STEP) {
      this.held_ = undefined;
      this.fail_(new HandshakeError(`peer sent more than ${MAX_HELD_DURING_STEP} bytes while the handshake was waiting`));
      return;
    }
    // A copy: the socket reuses its read buffer for the next chunk.
    (this.held_ ??= []).push(Buffer.from(chunk.subarray(0, length)));
  }

  /**
   * Encrypts and sends `data`. Before the handshake completes (and during a
   * post-handshake authentication) it is queued, as a copy: whatever the
   * state, the caller may reuse its buffer once `write` returned.
   * @returns false when the socket's buffer is full: wait for `whenDrained()` (or `ondrain`).
   * @throws StateError after `end()`; ClosedError once the connection closed,
   *   or after the peer's close_notify ended it (unless `allowHalfOpen`);
   *   the connection's error once it failed. When encryption itself fails
   *   the connection fails with that error (`onerror`, then `onclose`) and it is thrown.
   */
  write(data: Buffer | string): boolean {
    this.checkWritable_();
    checkData(data);
    if (this.queue_) {
      (this.pending_ ??= []).push(ownCopy(data));
      return true;
    }
    return this.encrypt_(data);
  }

  /** Encrypts several chunks in one native call; as `write`. */
  writev(chunks: ReadonlyArray<Buffer | string>): boolean {
    this.checkWritable_();
    if (!Array.isArray(chunks)) throw new InvalidArgumentError('Expected "chunks" to be an array of Buffers or strings');
    for (const c of chunks) checkData(c);
    if (this.queue_) {
      (this.pending_ ??= []).push(...chunks.map(ownCopy));
      return true;
    }
    return this.encrypt_(chunks);
  }

  /**
   * Sends close_notify after what was written, then ends the TCP stream.
   * Idempotent. Should OpenSSL fail to shut down, the connection fails with
   * that error (`onerror`): `end()` itself does not throw.
   */
  end(): void {
    if (this.ended_ || this.closed_ || this.error_) return;
    // result_ calls end() on the peer's close_notify when half-open is off:
    // writes after that are refused as the peer's doing, not the caller's.
    if (!this.endPending_) this.endedByPeer_ = this.peerEnded_ && !this.allowHalfOpen_;
    if (this.queue_) {
      this.endPending_ = true;
      return;
    }
    this.endPending_ = false;
    this.ended_ = true;
    let flags: number;
    try {
      flags = this.session_.shutdown();
    } catch (err) {
      this.sessionFailed_(err);
      return;
    }
    this.flush_(flags);
    this.socket.once('finish', () => this.onfinish?.());
    this.socket.end();
  }

  /**
   * Resolves once the socket's outgoing buffer drained (at once when it is
   * below its high-water mark): the Promise form of `write` returning false
   * and `ondrain`. Rejects with the connection's error when it fails or
   * closes first (ClosedError for a close without error).
   */
  whenDrained(): Promise<void> {
    if (this.error_) return Promise.reject(this.error_);
    if (this.closed_) return Promise.reject(new ClosedError('the connection is closed'));
    return (this.drain_ ??= new DrainSignal()).wait(this.socket, () => new ClosedError('the connection is closed'));
  }

  /** Closes at once, without close_notify. */
  destroy(error?: TlsError): void {
    if (error) this.fail_(error);
    else this.socket.destroy();
  }

  /** Stops reading from the socket (backpressure on the peer). */
  pause(): void {
    this.userPaused_ = true;
    this.socket.pause();
  }

  /** Reads again after `pause()` (once a handshake step in flight, if any, is done). */
  resume(): void {
    this.userPaused_ = false;
    if (!this.inFlight_) this.socket.resume();
  }

  /** Negotiated protocol, cipher, verify result and more. */
  info(): SessionInfo {
    return this.session_.info();
  }

  /** The peer's certificate, or null when it sent none. */
  peerCertificate(): CertificateSummary | null {
    return this.session_.peerCertificate();
  }

  /**
   * The peer's certificates, leaf first: as it sent them, or (`verified`) the
   * chain OpenSSL built and verified, up to the trust anchor.
   */
  peerCertificateChain(verified = false): CertificateSummary[] {
    return this.session_.peerCertificateChain(verified);
  }

  /**
   * The handshake is done and the peer's certificate verified (against the
   * context's trust store, and, on a client, the host name). A server in the
   * `requestCert: 'unverified'` mode serves every client and reads this (or
   * `authorizationError`) to decide. False before the handshake, and on a
   * server whose client sent no certificate.
   * @throws ClosedError once the connection has closed (the session is gone).
   */
  get authorized(): boolean {
    return this.secure_ && authorizationErrorOf(this.session_) === null;
  }

  /**
   * Why the peer is not `authorized`, or null (also before the handshake): a
   * CertificateError with OpenSSL's `verifyCode` (X509_V_ERR_*, e.g. 18 for a
   * self-signed certificate) and `verifyMessage`, or with no `verifyCode`
   * when the peer sent no certificate. A post-handshake authentication
   * updates it.
   * @throws ClosedError once the connection has closed.
   */
  get authorizationError(): CertificateError | null {
    return this.secure_ ? authorizationErrorOf(this.session_) : null;
  }

  /** The ALPN protocol both sides agreed on, or null. */
  get alpnProtocol(): string | null {
    return this.session_.info().alpnProtocol;
  }

  /** After `end()`: close_notify and the FIN were handed to the kernel (`onfinish` fired). */
  get finished(): boolean {
    return this.socket.writableFinished;
  }

  /** The handshake resumed a session (a ticket or session ID); false before it completed. */
  get resumed(): boolean {
    return this.secure_ && this.session_.info().resumed;
  }

  /**
   * Client: the session to resume later (serialized `SSL_SESSION`, keep it
   * secret: it holds the resumption secret), or null while none is
   * resumable. In TLS 1.3 it exists once the server's ticket arrived; see `onsession`.
   */
  getSession(): Buffer | null {
    return this.session_.getSession();
  }

  /**
   * Keying material for the connection (RFC 5705, RFC 8446 §7.5): `length`
   * bytes for `label` and optional `context`, the same on both sides.
   * @throws StateError before the handshake completes.
   */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array | string): Buffer {
    return context === undefined
      ? this.session_.exportKeyingMaterial(length, label)
      : this.session_.exportKeyingMaterial(length, label, context);
  }

  /**
   * Server, TLS 1.3: asks the client for its certificate now (post-handshake
   * authentication; the client must have offered it). Writes wait until the
   * client answered; `onpeercertificate` then fires. The context's verify
   * mode applies (`SSL_VERIFY_FAIL_IF_NO_PEER_CERT` fails the connection when
   * the client sends none).
   * @throws StateError before the handshake, on a client, under TLS 1.2 or
   *   when the client did not offer post-handshake authentication.
   */
  verifyClientPostHandshake(): void {
    if (this.error_) throw this.error_;
    if (!this.secure_) throw new StateError('post-handshake authentication needs a completed handshake');
    this.flush_(this.session_.verifyClientPostHandshake());
    this.pha_ = true;
    this.queue_ = true;
  }

  private checkWritable_(): void {
    if (this.error_) throw this.error_;
    if (this.endedByPeer_)
      throw new ClosedError("the peer closed the connection (close_notify) and it was ended in answer: use allowHalfOpen to write after the peer's end");
    if (this.ended_ || this.endPending_) throw new StateError('cannot write after end()');
    if (this.closed_) throw new ClosedError('the connection is closed');
  }

  /** Encrypts and sends; a session that throws fails the connection, and the error is rethrown. */
  private encrypt_(data: Pending | ReadonlyArray<Pending>): boolean {
    let flags: number;
    try {
      flags = this.session_.write(data);
    } catch (err) {
      throw this.sessionFailed_(err);
    }
    return this.flush_(flags);
  }

  /**
   * A throw from the session's write or shutdown: OpenSSL failed (the
   * arguments were checked before). The connection fails with the error;
   * returned for the caller to rethrow.
   */
  private sessionFailed_(thrown: unknown): TlsError {
    this.out_[2] = undefined;
    const err =
      thrown instanceof TlsError ? thrown : new ProtocolError(`TLS write failed: ${String((thrown as Error)?.message ?? thrown)}`, { cause: thrown });
    this.fail_(err);
    return err;
  }

  private cycle_(chunk: Buffer | undefined, length: number): void {
    let flags: number;
    try {
      flags = this.session_.cycle(chunk, length);
    } catch (err) {
      this.fail_(err as TlsError);
      return;
    }
    this.result_(flags);
  }

  /** handshakeOffload: starts a step on the thread pool. */
  private offloadFeed_(chunk: Buffer | undefined, length: number): void {
    let flags: number;
    try {
      flags = this.session_.cycleAsync(chunk, length, this.onStep_!);
    } catch (err) {
      this.fail_(err as TlsError);
      return;
    }
    // -1: the step runs on the pool and stepDone_ follows; else it ran here.
    if (flags === -1) {
      this.inFlight_ = true;
      // Nothing is read until the step is answered: what the peer sends meanwhile waits in the kernel.
      this.socket.pause();
    } else this.result_(flags);
  }

  /** handshakeOffload: a step completed (loop thread); `out` holds its results. */
  private stepDone_(flags: number): void {
    this.inFlight_ = false;
    if (this.error_ !== undefined || this.closed_) {
      // Failed meanwhile (timeout): drop the results.
      this.out_[0] = this.out_[1] = this.out_[2] = undefined;
      this.held_ = undefined;
      return;
    }
    this.result_(flags);
    this.afterPause_();
  }

  /** Sessions store: asks for the session the paused handshake wants to resume. */
  private lookup_(): void {
    const id = this.session_.sessionStoreRequest();
    if (id === null) return;
    const store = this.store_;
    if (store === undefined) {
      // A context with the store on, used by an engine without one: no session.
      this.answer_(null);
      return;
    }
    this.inFlight_ = true;
    // Nothing is read until the store answered (as during an offloaded step).
    this.socket.pause();
    void lookupSession(store, id, this.storeTimeout_).then((found) => {
      this.inFlight_ = false;
      // Destroyed or failed meanwhile: the session is gone, the answer is void.
      if (this.error_ !== undefined || this.closed_) {
        this.held_ = undefined;
        return;
      }
      // An entry that is not that ID's session (corrupt, foreign) is dropped from the store.
      if (!this.answer_(found ?? null) && found !== undefined) forgetSession(store, id);
      this.afterPause_();
    });
  }

  /** Gives the store's answer to the paused handshake and drives it on; true when OpenSSL got a session. */
  private answer_(found: Uint8Array | null): boolean {
    let usable: boolean;
    try {
      usable = this.session_.sessionStoreAnswer(found);
    } catch (err) {
      this.fail_(err as TlsError);
      return false;
    }
    this.feed_(undefined, 0);
    return usable;
  }

  /** After a pause (a step on the pool, a store lookup): what arrived meanwhile, then reading again. */
  private afterPause_(): void {
    const held = this.held_;
    this.held_ = undefined;
    this.heldBytes_ = 0;
    if (held && this.error_ === undefined && !this.closed_) {
      const buf = held.length === 1 ? held[0]! : Buffer.concat(held);
      this.feed_(buf, buf.length);
    }
    // Read again unless another step went out or the caller paused.
    if (!this.inFlight_ && !this.userPaused_ && this.error_ === undefined && !this.closed_) this.socket.resume();
    if (this.endHeld_ && !this.inFlight_) {
      this.endHeld_ = false;
      this.onSocketEnd_();
      // Node did not end our side at the FIN (allowHalfOpen was on): the
      // engine does, as the close_notify answer would have (idempotent).
      if (!this.allowHalfOpen_ && this.error_ === undefined) this.end();
    }
  }

  /** Acts on the flags of a cycle; the results are in `out`. */
  private result_(flags: number): void {
    // Take the results first: a handler called below may cycle this engine again.
    const out = this.out_;
    const enc = out[1];
    const clear = out[0];
    const err = out[2];
    out[0] = out[1] = out[2] = undefined;
    // A JS callback OpenSSL ran inside this cycle (SNI, keylog) may have
    // failed or destroyed the connection already: what the cycle made is void.
    if (this.error_ !== undefined || this.closed_) return;
    if (flags & CycleFlag.EncOut) this.socket.write(enc!);
    if (flags & CycleFlag.Error) {
      // Records decrypted before the failure are the peer's data: first them, then the error.
      if (flags & CycleFlag.ClearOut) this.ondata?.(clear!);
      this.fail_(err as TlsError);
      return;
    }
    if (flags & CycleFlag.Secure) {
      this.onSecure_();
      if (this.error_ !== undefined) return;
    }
    if (flags & CycleFlag.ClearOut) {
      this.ondata?.(clear!);
      if (this.error_ !== undefined) return;
    }
    if (flags & (CycleFlag.Session | CycleFlag.PeerCertificate | CycleFlag.SessionLookup)) this.onRare_(flags);
    if (flags & CycleFlag.PeerClosed && !this.peerEnded_ && this.error_ === undefined) {
      this.peerEnded_ = true;
      this.onend?.();
      if (!this.allowHalfOpen_) this.end();
    }
  }

  private onSecure_(): void {
    if (this.checkIdentity_ !== undefined && !this.identityAccepted_(this.checkIdentity_)) return;
    this.secure_ = true;
    if (this.offload_) {
      this.offload_ = false;
      this.socket.allowHalfOpen = this.allowHalfOpen_;
    }
    if (this.timer_) clearTimeout(this.timer_);
    this.timer_ = undefined;
    // Node's socket timer, re-armed by every read and write: no timer of our own per chunk.
    if (this.idleTimeout_ > 0)
      this.socket.setTimeout(this.idleTimeout_, () =>
        this.fail_(new TimeoutError(`connection idle for more than ${this.idleTimeout_} ms`)),
      );
    this.flushQueue_();
    this.onsecure?.();
    this.endIfPending_();
  }

  /** Runs `checkServerIdentity`; a rejection fails the connection. */
  private identityAccepted_(check: NonNullable<TlsEngineOptions['checkServerIdentity']>): boolean {
    let rejection: unknown;
    try {
      rejection = check(this.identityHost_, this.session_.peerCertificate());
    } catch (err) {
      rejection = err ?? new Error('checkServerIdentity threw');
    }
    if (rejection === undefined || rejection === null) return true;
    const reason = rejection instanceof Error ? rejection.message : String(rejection);
    this.fail_(new CertificateError(`server identity rejected: ${reason}`, { cause: rejection }));
    return false;
  }

  /** Sends what waited for the handshake (or a post-handshake auth) in one native call. */
  private flushQueue_(): void {
    this.queue_ = false;
    const pending = this.pending_;
    this.pending_ = undefined;
    if (!pending) return;
    try {
      this.encrypt_(pending);
    } catch {
      // No caller to throw to: the connection has failed (onerror) with it.
    }
  }

  /** An end() called while writes were queued happens now, unless they queue again. */
  private endIfPending_(): void {
    if (this.endPending_ && !this.queue_) this.end();
  }

  /** Session tickets, the session store and post-handshake authentication: off the common path. */
  private onRare_(flags: number): void {
    if (flags & CycleFlag.SessionLookup) {
      this.lookup_();
      return;
    }
    if (flags & CycleFlag.Session) {
      if (this.store_) keepSessions(this.store_, this.session_.takeStoreSessions());
      const session = this.onsession ? this.session_.getSession() : null;
      if (session) this.onsession!(session);
    }
    if (flags & CycleFlag.PeerCertificate && this.pha_) {
      this.pha_ = false;
      this.flushQueue_();
      this.onpeercertificate?.(this.session_.peerCertificate());
      this.endIfPending_();
    }
  }

  private flush_(flags: number): boolean {
    if (flags & CycleFlag.EncOut) {
      const enc = this.out_[1]!;
      this.out_[1] = undefined;
      return this.socket.write(enc);
    }
    return !this.socket.writableNeedDrain;
  }

  private onSocketEnd_(): void {
    if (this.inFlight_) {
      this.endHeld_ = true;
      return;
    }
    if (this.error_ || this.peerEnded_) return;
    if (!this.secure_) this.fail_(new HandshakeError('peer closed the connection during the TLS handshake'));
    else this.fail_(new TruncationError());
  }

  private fail_(err: TlsError): void {
    if (this.error_ || this.closed_) return;
    this.error_ = err;
    if (this.timer_) clearTimeout(this.timer_);
    this.timer_ = undefined;
    this.drain_?.fail(err);
    this.onerror?.(err);
    // An alert may still be queued: let it reach the peer, then close.
    if (this.socket.writableLength > 0 && !this.socket.destroyed) this.socket.end(() => this.socket.destroy());
    else this.socket.destroy();
  }

  private onSocketClose_(): void {
    if (this.closed_) return;
    this.closed_ = true;
    if (this.timer_) clearTimeout(this.timer_);
    this.timer_ = undefined;
    if (!this.secure_ && !this.error_) this.error_ = new HandshakeError('connection closed before the TLS handshake completed');
    this.drain_?.fail(this.error_ ?? new ClosedError('the connection closed before the socket drained'));
    this.session_.free();
    this.onclose?.(this.error_);
  }
}
