// The native transport: the TCP socket lives in the addon (tcp_*.cc), so the
// ciphertext never enters JS. NativeTlsConnection has TlsEngine's surface
// (SecureConnection); NativeTlsServer is a small net.Server look-alike. JS is
// called once when a connection is secure, once per batch of plaintext, and
// on drain, end and close; the handshake, alerts and close_notify run natively.
import { lookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';

import { authorizationErrorOf } from './authorization.js';
import { encodeAlpn } from './context-features.js';
import { CertificateError, createError, ErrorCode, HandshakeError, InvalidArgumentError, StateError, type TlsError } from './errors.js';
import { kNative } from './internal.js';
import {
  binding,
  type CertificateSummary,
  type NativeContext,
  type NativeTcpConnection,
  type ListenSettings,
  type NativeTcpServer,
  type SessionInfo,
  type SessionOptions,
  type TransportAddress,
  type TransportAdoptOptions,
  type TransportConnectOptions,
  type TransportSettings,
} from './native.js';
import { ProxyProtocolError } from './proxy-protocol.js';
import type { SecureConnection } from './secure-connection.js';
import { forgetSession, keepSessions, lookupSession, type SessionStore } from './session-store.js';
import type { SSLContext } from './ssl-context.js';

/** Options both sides of the native transport share. */
export interface NativeTransportOptions {
  /** Milliseconds the handshake may take (a client: from the start of connect). Default 10 000; 0 disables. */
  handshakeTimeout?: number;
  /** Milliseconds without reads or writes before the connection fails with a TimeoutError. Default 0: none. */
  idleTimeout?: number;
  /** Keep writing after the peer's close_notify. Default false. */
  allowHalfOpen?: boolean;
  /** TCP keep-alive. Default false. */
  keepAlive?: boolean;
  /** Milliseconds before the first keep-alive probe. Default 60 000. */
  keepAliveInitialDelay?: number;
  /** Unsent bytes at which `write` returns false. Default 65 536. */
  highWaterMark?: number;
}

function settingsOf(o: NativeTransportOptions): TransportSettings {
  const s: TransportSettings = {};
  if (o.handshakeTimeout !== undefined) s.handshakeTimeout = o.handshakeTimeout;
  if (o.idleTimeout !== undefined) s.idleTimeout = o.idleTimeout;
  if (o.allowHalfOpen !== undefined) s.allowHalfOpen = o.allowHalfOpen;
  if (o.keepAlive !== undefined) s.keepAlive = o.keepAlive;
  if (o.keepAliveInitialDelay !== undefined) s.keepAliveInitialDelay = o.keepAliveInitialDelay;
  if (o.highWaterMark !== undefined) s.highWaterMark = o.highWaterMark;
  return s;
}

/**
 * One TLS connection of the native transport. Set the `on*` handlers in the
 * server's connection handler (it runs when the connection is already
 * secure; `onsecure` fires right after it) or right after `connectTls`.
 */
export class NativeTlsConnection implements SecureConnection {
  onsecure: (() => void) | undefined = undefined;
  ondata: ((chunk: Buffer) => void) | undefined = undefined;
  onend: (() => void) | undefined = undefined;
  onerror: ((err: TlsError) => void) | undefined = undefined;
  onclose: ((error: TlsError | undefined) => void) | undefined = undefined;
  ondrain: (() => void) | undefined = undefined;
  private onfinish_: (() => void) | undefined = undefined;
  onsession: ((session: Buffer) => void) | undefined = undefined;
  /** Server: the client answered `verifyClientPostHandshake()`; its certificate, or null if it sent none. */
  onpeercertificate: ((certificate: CertificateSummary | null) => void) | undefined = undefined;

  private native_: NativeTcpConnection | undefined;
  private secure_ = false;
  private peerEnded_ = false;
  private ended_ = false;
  private closed_ = false;
  private finished_ = false;
  private error_: TlsError | undefined = undefined;
  private errorReported_ = false;
  // A client waits for its name lookup: what JS did meanwhile is replayed.
  private queued_: Array<Buffer | string> | undefined = undefined;
  private paused_ = false;
  private address_: TransportAddress | undefined = undefined;
  // A post-handshake authentication runs: writes (and end) wait in queued_ for the client's answer.
  private pha_ = false;
  // Client with checkServerIdentity: writes wait in queued_ until the check accepted the server.
  private identity_: { host: string; check: IdentityCheck } | undefined = undefined;
  private endAfterPha_ = false;
  /** @internal A server's session store: new sessions go there. */
  store_: SessionStore | undefined = undefined;

  /** @internal Made by the transport (`connectTls`, a native server). */
  constructor(native: NativeTcpConnection | undefined, secure: boolean) {
    this.native_ = native;
    this.secure_ = secure;
  }

  get secure(): boolean {
    return this.secure_ && !this.closed_ && this.error_ === undefined;
  }

  get peerEnded(): boolean {
    return this.peerEnded_;
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** After `end()`: close_notify and the FIN were handed to the kernel. */
  get finished(): boolean {
    return this.finished_ || (this.native_ !== undefined && !this.closed_ && this.native_.isFinished());
  }

  /** After `end()`: everything written, close_notify and the FIN included, was handed to the kernel. */
  get onfinish(): (() => void) | undefined {
    return this.onfinish_;
  }

  set onfinish(fn: (() => void) | undefined) {
    this.onfinish_ = fn;
    // Only a connection with a listener pays the call.
    if (fn !== undefined && this.native_ !== undefined && !this.closed_) this.native_.watchFinish();
  }

  get error(): TlsError | undefined {
    return this.error_;
  }

  /** Unsent bytes: ciphertext the kernel has not taken (and writes queued before the handshake). */
  get bufferedAmount(): number {
    let n = this.native_ !== undefined ? this.native_.bufferedAmount() : 0;
    if (this.queued_) for (const q of this.queued_) n += typeof q === 'string' ? Buffer.byteLength(q) : q.length;
    return n;
  }

  get alpnProtocol(): string | null {
    return this.live_().alpnProtocol();
  }

  get resumed(): boolean {
    return this.native_ !== undefined && this.secure_ && !this.closed_ && this.native_.isResumed();
  }

  get remoteAddress(): string | undefined {
    return this.address_s().remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.address_s().remotePort;
  }

  get remoteFamily(): 'IPv4' | 'IPv6' | undefined {
    return this.address_s().remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.address_s().localAddress;
  }

  get localPort(): number | undefined {
    return this.address_s().localPort;
  }

  write(data: Buffer | string): boolean {
    this.checkWritable_();
    if (this.native_ === undefined || this.pha_ || this.identity_ !== undefined) {
      // During a post-handshake authentication, a copy: the caller may reuse its buffer.
      (this.queued_ ??= []).push(this.pha_ && typeof data !== 'string' ? Buffer.from(data) : data);
      return true;
    }
    return this.native_.write(data);
  }

  writev(chunks: ReadonlyArray<Buffer | string>): boolean {
    this.checkWritable_();
    if (this.native_ === undefined || this.pha_ || this.identity_ !== undefined) {
      (this.queued_ ??= []).push(...chunks.map((c) => (this.pha_ && typeof c !== 'string' ? Buffer.from(c) : c)));
      return true;
    }
    return this.native_.write(chunks);
  }

  end(): void {
    if (this.ended_ || this.closed_ || this.error_) return;
    this.ended_ = true;
    if (this.pha_) this.endAfterPha_ = true;
    else this.native_?.end();
  }

  /**
   * The handshake is done and the peer's certificate verified (as
   * `TlsEngine.authorized`; a post-handshake authentication updates it).
   */
  get authorized(): boolean {
    return this.secure && authorizationErrorOf(this.live_()) === null;
  }

  /** Why the peer is not `authorized`, or null (also before the handshake); as `TlsEngine.authorizationError`. */
  get authorizationError(): CertificateError | null {
    return this.secure ? authorizationErrorOf(this.live_()) : null;
  }

  /**
   * Server, TLS 1.3: asks the client for its certificate now (post-handshake
   * authentication; the client must have offered it). Writes wait until the
   * client answered; `onpeercertificate` then fires. As
   * `TlsEngine.verifyClientPostHandshake`.
   * @throws StateError before the handshake, on a client, under TLS 1.2 or
   *   when the client did not offer post-handshake authentication.
   */
  verifyClientPostHandshake(): void {
    if (this.error_) throw this.error_;
    if (!this.secure) throw new StateError('post-handshake authentication needs a completed handshake');
    if (this.pha_) throw new StateError('a post-handshake authentication is already running');
    this.live_().verifyClientPostHandshake();
    this.pha_ = true;
  }

  destroy(error?: TlsError): void {
    if (this.closed_) return;
    if (error && this.error_ === undefined) {
      this.error_ = error;
      this.reportError_();
    }
    if (this.native_ !== undefined) this.native_.destroy();
    else this.closeBeforeConnect_(error ?? new HandshakeError('connection closed before the TLS handshake completed'));
  }

  pause(): void {
    this.paused_ = true;
    this.native_?.pause();
  }

  resume(): void {
    this.paused_ = false;
    this.native_?.resume();
  }

  info(): SessionInfo {
    return this.live_().info();
  }

  peerCertificate(): CertificateSummary | null {
    return this.live_().peerCertificate();
  }

  peerCertificateChain(verified = false): CertificateSummary[] {
    return this.live_().peerCertificateChain(verified);
  }

  getSession(): Buffer | null {
    return this.live_().getSession();
  }

  exportKeyingMaterial(length: number, label: string, context?: Uint8Array | string): Buffer {
    const n = this.live_();
    return context === undefined ? n.exportKeyingMaterial(length, label) : n.exportKeyingMaterial(length, label, context);
  }

  /** TCP_NODELAY (on by default). */
  setNoDelay(noDelay = true): void {
    this.native_?.setNoDelay(noDelay);
  }

  setKeepAlive(enable: boolean, initialDelay?: number): void {
    this.native_?.setKeepAlive(enable, initialDelay);
  }

  /** Keep the process alive while this connection is open (the default), as net.Socket.ref(). */
  ref(): void {
    this.native_?.ref();
  }

  unref(): void {
    this.native_?.unref();
  }

  /** @internal A client's `checkServerIdentity`, run once secure, before anything written is sent. */
  _checkIdentity(host: string, check: IdentityCheck): void {
    this.identity_ = { host, check };
  }

  /** @internal The client's connection started: replay what waited for it. */
  _attach(native: NativeTcpConnection): void {
    this.native_ = native;
    if (this.onfinish_ !== undefined) native.watchFinish();
    if (this.paused_) native.pause();
    // Held until the server's identity was accepted (_secure).
    if (this.identity_ === undefined) this.sendQueued_();
    if (this.ended_) native.end();
  }

  /** @internal */
  _secure(): void {
    this.secure_ = true;
    if (this.identity_ !== undefined) {
      if (!this.identityAccepted_(this.identity_)) return;
      this.identity_ = undefined;
      this.sendQueued_();
    }
    this.onsecure?.();
  }

  /** Runs `checkServerIdentity`; a rejection fails the connection before a byte of ours left. */
  private identityAccepted_({ host, check }: { host: string; check: IdentityCheck }): boolean {
    let rejection: unknown;
    try {
      rejection = check(host, this.live_().peerCertificate());
    } catch (err) {
      rejection = err ?? new Error('checkServerIdentity threw');
    }
    if (rejection === undefined || rejection === null) return true;
    const reason = rejection instanceof Error ? rejection.message : String(rejection);
    this.queued_ = undefined;
    this.destroy(new CertificateError(`server identity rejected: ${reason}`, { cause: rejection }));
    return false;
  }

  private sendQueued_(): void {
    const queued = this.queued_;
    this.queued_ = undefined;
    if (queued) this.native_!.write(queued);
  }

  /** @internal */
  _finish(): void {
    this.finished_ = true;
    this.onfinish_?.();
  }

  /** @internal */
  _end(): void {
    this.peerEnded_ = true;
    this.onend?.();
  }

  /** @internal The client answered a post-handshake CertificateRequest: what waited goes out. */
  _peerCertificate(): void {
    this.pha_ = false;
    const queued = this.queued_;
    this.queued_ = undefined;
    const native = this.native_!;
    try {
      if (queued) native.write(queued);
    } catch {
      // No caller to throw to: the connection fails with its own error.
    }
    this.onpeercertificate?.(native.isClosed() ? null : native.peerCertificate());
    if (this.endAfterPha_ && !native.isClosed()) {
      this.endAfterPha_ = false;
      native.end();
    }
  }

  /** @internal */
  _session(): void {
    if (this.store_ !== undefined && this.native_ !== undefined) keepSessions(this.store_, this.native_.takeStoreSessions());
    if (this.onsession === undefined) return;
    const s = this.native_?.getSession();
    if (s) this.onsession(s);
  }

  /** @internal */
  _close(error: Error | undefined): void {
    if (this.closed_) return;
    if (error !== undefined && this.error_ === undefined) this.error_ = error as TlsError;
    this.reportError_();
    this.closed_ = true;
    this.onclose?.(this.error_);
  }

  /** Before a client's native connection exists (name lookup, a failed connect). */
  private closeBeforeConnect_(error: TlsError): void {
    this.queued_ = undefined;
    this.closed_ = true; // no write from here on; the handlers hear of it on the next tick
    process.nextTick(() => {
      this.closed_ = false;
      this._close(error);
    });
  }

  private reportError_(): void {
    if (this.error_ === undefined || this.errorReported_) return;
    this.errorReported_ = true;
    this.onerror?.(this.error_);
  }

  private checkWritable_(): void {
    if (this.error_) throw this.error_;
    if (this.ended_ || this.closed_) throw new StateError('cannot write after end()');
  }

  private live_(): NativeTcpConnection {
    if (this.native_ === undefined) throw new StateError('the connection has not started yet');
    return this.native_;
  }

  private address_s(): TransportAddress {
    // Read once, while the socket can still tell (not after close).
    if (this.address_ === undefined && this.native_ !== undefined && !this.closed_) {
      const a = this.native_.address();
      if (a.remoteAddress !== undefined) this.address_ = a;
      else return a;
    }
    return this.address_ ?? {};
  }
}

/** What `listen` takes, as `net.Server#listen`'s options. */
export interface NativeListenOptions {
  port?: number;
  /** An IP address or a host name (resolved with dns.lookup). Default `::` (dual stack), else `0.0.0.0`. */
  host?: string;
  /** Default 511, as net. */
  backlog?: number;
  ipv6Only?: boolean;
}

/**
 * A TLS server on the native transport: `listen`, `address`, `close`, `ref`,
 * `unref` as net.Server; events 'listening', 'close', 'error' (listen
 * failures) and 'tlsClientError' (a connection that failed before its
 * handshake completed: it never reaches the handler).
 */
export class NativeTlsServer extends EventEmitter {
  private native_: NativeTcpServer | undefined = undefined;
  private closing_ = false;
  private closed_ = false;
  private unref_ = false;

  /** @internal Made by `createTlsServer({ transport: 'native', … })`. */
  constructor(
    private readonly context_: SSLContext,
    private readonly settings_: ListenSettings,
    private readonly onConnection_: (connection: NativeTlsConnection) => void,
    private readonly store_?: { store: SessionStore; timeout: number },
  ) {
    super();
  }

  /** Handshaking and open connections. */
  get connections(): number {
    return this.native_?.connections() ?? 0;
  }

  get listening(): boolean {
    return this.native_ !== undefined && !this.closing_;
  }

  listen(port?: number, host?: string, listener?: () => void): this;
  listen(port: number, listener: () => void): this;
  listen(options: NativeListenOptions, listener?: () => void): this;
  listen(a?: number | NativeListenOptions, b?: string | (() => void), c?: () => void): this {
    const o: NativeListenOptions = typeof a === 'object' && a !== null ? a : { ...(a !== undefined ? { port: a } : {}) };
    if (typeof b === 'string') o.host = b;
    const listener = typeof b === 'function' ? b : c;
    const port = o.port ?? 0;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
      throw new InvalidArgumentError('Expected "port" to be an integer from 0 to 65535');
    const backlog = o.backlog ?? 511;
    if (this.native_ !== undefined || this.closing_) throw new StateError('the server is already listening or closed');
    if (listener) this.once('listening', listener);
    const start = (ip: string, fallback?: string) => {
      try {
        this.native_ = binding.tcpListen(this.context_[kNative], ip, port, backlog, o.ipv6Only ?? false, this.settings_, this);
      } catch (err) {
        // No IPv6 on this host: net falls back to IPv4 the same way.
        if (fallback !== undefined && (err as { syscallCode?: string }).syscallCode === 'EAFNOSUPPORT') return start(fallback);
        process.nextTick(() => this.emit('error', err));
        return;
      }
      if (this.unref_) this.native_.unref();
      process.nextTick(() => this.emit('listening'));
    };
    const host = o.host;
    if (host === undefined) start('::', '0.0.0.0');
    else if (isIP(host)) start(host);
    else
      lookup(host, (err, address) => {
        if (err) this.emit('error', err);
        else if (!this.closing_) start(address);
      });
    return this;
  }

  address(): { address: string; family: string; port: number } | null {
    if (this.native_ === undefined || this.closing_) return null;
    return this.native_.address();
  }

  /** Stops accepting; 'close' follows once every connection has closed, as net.Server. */
  close(callback?: (err?: Error) => void): this {
    if (callback) {
      if (this.native_ === undefined || this.closing_) {
        process.nextTick(() => callback(new StateError('the server is not listening')));
        return this;
      }
      this.once('close', () => callback());
    }
    if (!this.closing_) {
      this.closing_ = true;
      this.native_?.close();
    }
    return this;
  }

  /**
   * Graceful shutdown: stops accepting at once (as `close`), lets the open
   * and handshaking connections finish for up to `graceMs` milliseconds, then
   * destroys those still open (no close_notify). Resolves once every
   * connection has closed ('close' fired). With `reusePort`, the other
   * processes on the address take the new connections meanwhile.
   */
  shutdown(graceMs = 30_000): Promise<void> {
    if (typeof graceMs !== 'number' || !Number.isInteger(graceMs) || graceMs < 0 || graceMs > 2147483647)
      throw new InvalidArgumentError('Expected "graceMs" to be an integer number of milliseconds from 0 to 2147483647');
    const native = this.native_;
    if (this.closed_) return Promise.resolve();
    if (native === undefined) {
      // Never listened: nothing to wait for; 'close' still stops what hangs on it (the ticket rotation).
      this.closing_ = true;
      this.closed_ = true;
      return new Promise((resolve) => process.nextTick(() => (this.emit('close'), resolve())));
    }
    return new Promise((resolve) => {
      const deadline = setTimeout(() => native.destroyConnections(), graceMs);
      deadline.unref(); // the connections keep the process alive, not the deadline
      this.once('close', () => {
        clearTimeout(deadline);
        resolve();
      });
      this.close();
    });
  }

  ref(): this {
    this.unref_ = false;
    this.native_?.ref();
    return this;
  }

  unref(): this {
    this.unref_ = true;
    this.native_?.unref();
    return this;
  }

  /** @internal The listener and its last connection are gone. */
  _closed(): void {
    this.closed_ = true;
    this.emit('close');
  }

  /**
   * @internal A handshake waits at its ClientHello for session `id`: asks the
   * store (never rejects; a timeout is a miss) and answers unless the
   * connection closed meanwhile.
   */
  _lookup(native: NativeTcpConnection, id: Buffer): void {
    const s = this.store_;
    if (s === undefined) {
      // A context with the store on, on a server without one: no session.
      try {
        native.sessionStoreAnswer(null);
      } catch {
        // Closed meanwhile: nothing waits for the answer.
      }
      return;
    }
    void lookupSession(s.store, id, s.timeout).then((found) => {
      if (native.isClosed()) return; // destroyed, timed out, or the server shut down
      let usable: boolean;
      try {
        usable = native.sessionStoreAnswer(found ?? null);
      } catch {
        return; // closed in between: the answer is void
      }
      // An entry that is not that ID's session (corrupt, foreign) is dropped from the store.
      if (!usable && found !== undefined) forgetSession(s.store, id);
    });
  }

  /** @internal A connection is secure: the handler sees it, then its onsecure. */
  _accept(native: NativeTcpConnection): NativeTlsConnection {
    const connection = new NativeTlsConnection(native, true);
    if (this.store_ !== undefined) connection.store_ = this.store_.store;
    this.onConnection_(connection);
    connection.onsecure?.();
    return connection;
  }
}

/** What native code calls; `this` is the owner (a connection or a server). */
binding.setTransportCallbacks({
  secure(this: object, native?: NativeTcpConnection) {
    if (native !== undefined) return (this as NativeTlsServer)._accept(native);
    (this as NativeTlsConnection)._secure();
    return undefined;
  },
  // A view of the loop's plaintext slab (plaintext_slab.h): no copy; never rewritten.
  data(this: object, slab: ArrayBuffer, offset: number, length: number) {
    const c = this as NativeTlsConnection;
    if (c.ondata !== undefined) c.ondata(Buffer.from(slab, offset, length));
  },
  drain(this: object) {
    (this as NativeTlsConnection).ondrain?.();
  },
  finish(this: object) {
    (this as NativeTlsConnection)._finish();
  },
  end(this: object) {
    (this as NativeTlsConnection)._end();
  },
  // A socket failure (reset, broken pipe) comes as its parts, made into the error only here.
  close(this: object, error: Error | undefined, message?: string, syscallCode?: string) {
    if (error === undefined && message !== undefined) error = createError(ErrorCode.Socket, message, { syscallCode }, true);
    (this as NativeTlsConnection)._close(error);
  },
  session(this: object) {
    (this as NativeTlsConnection)._session();
  },
  serverError(this: object, error: Error) {
    // tcp_proxy.cc marks a refused PROXY header: the same class as on the JS transport.
    if ((error as { proxyProtocol?: boolean }).proxyProtocol === true) error = new ProxyProtocolError(error.message);
    (this as NativeTlsServer).emit('tlsClientError', error);
  },
  sessionLookup(this: object, native: NativeTcpConnection, id: Buffer) {
    (this as NativeTlsServer)._lookup(native, id);
  },
  peerCertificate(this: object) {
    (this as NativeTlsConnection)._peerCertificate();
  },
  serverClose(this: object) {
    (this as NativeTlsServer)._closed();
  },
});

/** A client's session options on the native transport (what `connectNative` and `adoptNative` share). */
export interface NativeClientParams extends NativeTransportOptions {
  context: SSLContext;
  servername?: string;
  verifyHost?: string;
  verifyPeer?: boolean;
  alpnProtocols?: ReadonlyArray<string> | Uint8Array;
  session?: Uint8Array;
  postHandshakeAuth?: boolean;
  /** Handshake steps on the thread pool (ClientOptions.handshakeOffload). */
  handshakeOffload?: boolean;
}

/** Client settings of `connectTls` on the native transport (resolved from ClientOptions). */
export interface NativeConnectParams extends NativeClientParams {
  host: string;
  port: number;
  localAddress?: string;
  /** Run once secure, before anything written is sent: an Error (returned or thrown) fails the connection. */
  checkServerIdentity?: IdentityCheck;
}

/** A client's own check of the server's certificate (as TlsEngineOptions.checkServerIdentity). */
export type IdentityCheck = (host: string, certificate: CertificateSummary | null) => Error | undefined | void;

/** The native options of a client: the settings and the session options that were given. */
function clientOptionsOf(p: NativeClientParams): SessionOptions & TransportSettings {
  const options: SessionOptions & TransportSettings = { ...settingsOf(p) };
  if (p.servername !== undefined) options.servername = p.servername;
  if (p.verifyHost !== undefined) options.verifyHost = p.verifyHost;
  if (p.verifyPeer !== undefined) options.verifyPeer = p.verifyPeer;
  if (p.alpnProtocols !== undefined) options.alpnProtocols = encodeAlpn(p.alpnProtocols);
  if (p.session !== undefined) options.session = p.session;
  if (p.postHandshakeAuth !== undefined) options.postHandshakeAuth = p.postHandshakeAuth;
  if (p.handshakeOffload !== undefined) options.handshakeOffload = p.handshakeOffload;
  return options;
}

/** Starts a native client connection; the host name is looked up first (all addresses, in order). */
export function connectNative(p: NativeConnectParams): NativeTlsConnection {
  const options: TransportConnectOptions = clientOptionsOf(p);
  if (p.localAddress !== undefined) options.localAddress = p.localAddress;
  if (p.checkServerIdentity !== undefined && typeof p.checkServerIdentity !== 'function')
    throw new InvalidArgumentError('Expected "checkServerIdentity" to be a function');
  const connection = new NativeTlsConnection(undefined, false);
  if (p.checkServerIdentity !== undefined) connection._checkIdentity(p.verifyHost || p.servername || '', p.checkServerIdentity);
  const native = p.context[kNative];
  // An IP address connects at once, so bad options throw here, as on the JS transport.
  if (isIP(p.host)) {
    connection._attach(binding.tcpConnect(native, p.host, p.port, options, connection));
    return connection;
  }
  lookup(p.host, { all: true }, (err, addresses) => {
    if (connection.closed) return; // destroyed while looking up
    if (err || addresses.length === 0) {
      connection.destroy(new HandshakeError(`could not resolve ${p.host}: ${err?.message ?? 'no address'}`));
      return;
    }
    // IPv4 first: a server on 127.0.0.1 is the common case for "localhost".
    const address = [...addresses].sort((a, b) => a.family - b.family)[0]!.address;
    try {
      connection._attach(binding.tcpConnect(native, address, p.port, options, connection));
    } catch (err) {
      connection.destroy(err as TlsError);
    }
  });
  return connection;
}

/** TLS over a connected TCP descriptor that JS holds (`adoptNative`); its handshake runs on the loop thread. */
export interface NativeAdoptParams extends Omit<NativeClientParams, 'handshakeOffload'> {
  /** The descriptor; it is duplicated, see `adoptNative`. */
  fd: number;
  isServer: boolean;
  /** Ciphertext already read from the descriptor: the peer's first TLS bytes. */
  initial?: Buffer;
}

/**
 * Runs TLS on the native transport over a TCP connection JS already made
 * (the documented TLSSocket over its Socket). The addon duplicates `fd` and
 * does all I/O on its copy: the caller must not read from or write to its
 * own handle any more, and closes it after `onclose` (the kernel ends the
 * TCP connection once both are closed). A server's session options are the
 * context's; `servername` and the rest apply to a client.
 */
export function adoptNative(p: NativeAdoptParams): NativeTlsConnection {
  const options: TransportAdoptOptions = p.isServer ? settingsOf(p) : clientOptionsOf(p);
  // The socket keeps the options its owner set (TCP_NODELAY is left as it is; keep-alive too unless asked).
  options.noDelay = false;
  if (p.initial !== undefined && p.initial.length > 0) options.initial = p.initial;
  const connection = new NativeTlsConnection(undefined, false);
  connection._attach(binding.tcpAdopt(p.context[kNative], p.fd, p.isServer, options, connection));
  return connection;
}
