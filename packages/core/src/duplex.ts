// A TLS connection as a `stream.Duplex`, for APIs that take a socket-like
// stream: `http.Server#emit('connection', duplex)` serves HTTPS and
// `http.request({ createConnection })` sends it. The engine stays the hot
// path; this adapter only maps its handlers onto stream calls.
import { Duplex } from 'node:stream';

import { connectTls, type ClientOptions } from './connect.js';
import type { TlsEngine } from './engine.js';
import { ClosedError, type CertificateError } from './errors.js';
import type { CertificateSummary, SessionInfo } from './native.js';

type WriteCallback = (error?: Error | null) => void;

/** Options of a TlsDuplex. */
export interface TlsDuplexOptions {
  /**
   * Receives an error that ends the connection before its handshake
   * completed (as node:tls's `tlsClientError`); the stream is then destroyed
   * without an 'error' event.
   */
  onClientError?: (error: Error, duplex: TlsDuplex) => void;
}

// node:tls's `authorizationError` names for the commonest X509_V_ERR_* codes.
const verifyErrorNames: Readonly<Record<number, string>> = {
  2: 'UNABLE_TO_GET_ISSUER_CERT',
  9: 'CERT_NOT_YET_VALID',
  10: 'CERT_HAS_EXPIRED',
  18: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  19: 'SELF_SIGNED_CERT_IN_CHAIN',
  20: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  21: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  62: 'ERR_TLS_CERT_ALTNAME_INVALID',
  64: 'ERR_TLS_CERT_ALTNAME_INVALID',
};

const noop = (): void => {};

/**
 * Presents a `TlsEngine` as a Duplex stream of plaintext. Reading pauses the
 * socket when the stream's buffer is full; writing waits for the engine's
 * `whenDrained()`. A clean TLS close ends the readable side; a failure destroys the
 * stream with the engine's error. Emits 'secureConnect' (and 'secure') when
 * the handshake is done.
 *
 * It carries the socket-like members node:http uses (`remoteAddress`,
 * `setTimeout`, `setNoDelay`, `setKeepAlive`, `encrypted`, …) and the TLS
 * ones of `tls.TLSSocket` (`authorized`, `authorizationError`,
 * `alpnProtocol`, `getPeerCertificate`, `getProtocol`, `getCipher`,
 * `getSession`, `isSessionReused`): `alpnProtocol` is false until the
 * handshake is done or when none was agreed, as in node:tls. So hand it to
 * node:http2 (which drops a connection whose `alpnProtocol` is false) only
 * once secure: see `secureDuplexes`. `authorizationError` is a
 * CertificateError here (`@rxtls/core/tls` sockets give node:tls's string).
 *
 * An error with no 'error' listener never throws: the stream is destroyed
 * and the error stays readable as `engine.error`.
 *
 * @example
 * const http = createServer((req, res) => res.end('hello'));
 * createTlsServer({ cert, key }, (engine) => http.emit('connection', new TlsDuplex(engine)))
 *   .listen(8443);
 */
export class TlsDuplex extends Duplex {
  /** The engine this stream wraps. */
  readonly engine: TlsEngine;
  /** Always true: node:http reads it to tell HTTPS from HTTP. */
  readonly encrypted = true;
  private writeCallback_: WriteCallback | undefined = undefined;
  private finalCallback_: WriteCallback | undefined = undefined;
  private readonly onClientError_: TlsDuplexOptions['onClientError'];
  // Read at the handshake: the session is freed when the connection closes.
  private alpn_: string | false = false;
  private protocol_: string | null = null;
  private cipher_: { name: string; standardName: string; version: string } | undefined = undefined;
  private verifyResult_ = -1;
  private verifyMessage_ = '';
  private verifyNodeCode_ = 0;
  private resumed_ = false;
  private hasPeerCertificate_ = false;

  constructor(engine: TlsEngine, options: TlsDuplexOptions = {}) {
    // The engine owns half-close: its end() sends close_notify and ends TCP.
    super({ allowHalfOpen: true, decodeStrings: true });
    this.engine = engine;
    this.onClientError_ = options.onClientError;
    if (engine.secure) this.recordHandshake_();
    engine.onsecure = () => {
      this.recordHandshake_();
      this.emit('secureConnect');
      this.emit('secure');
      this.emit('connect');
    };
    engine.ondata = (chunk) => {
      if (!this.push(chunk)) engine.pause();
    };
    engine.onend = () => this.push(null);
    engine.onerror = (err) => this.fail_(err);
    engine.onclose = (err) => {
      const cb = this.finalCallback_;
      this.finalCallback_ = undefined;
      cb?.();
      if (err) this.fail_(err);
      else if (!this.destroyed) {
        // Clean close: end the readable side, and destroy once it was read (as net.Socket does on 'close').
        this.push(null);
        if (this.readableEnded) this.destroy();
        else this.once('end', () => this.destroy());
      }
    };
    engine.socket.on('timeout', () => this.emit('timeout'));
    if (engine.secure) queueMicrotask(() => this.emit('secureConnect'));
  }

  /** Still in the handshake (as `net.Socket#connecting`). */
  get connecting(): boolean {
    return !this.engine.secure && !this.engine.closed;
  }

  get remoteAddress(): string | undefined {
    return this.engine.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.engine.socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.engine.socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.engine.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.engine.socket.localPort;
  }
  /** The peer sent a certificate and it verified: `TlsEngine.authorized`. */
  get authorized(): boolean {
    return this.engine.authorized;
  }
  /**
   * Why not `authorized` (`TlsEngine.authorizationError`): a CertificateError
   * with `verifyCode`/`verifyMessage`, or null. node:tls gives a string code here.
   */
  get authorizationError(): CertificateError | null {
    return this.engine.authorizationError;
  }
  /**
   * node:tls's `authorizationError` string: why the certificate the peer sent
   * did not verify (node:tls's code names where it has one), or null. Read
   * at the handshake, so it stays after the connection closed.
   */
  protected get nodeAuthorizationError(): string | null {
    if (this.verifyResult_ <= 0 || !this.hasPeerCertificate_) return null;
    return verifyErrorNames[this.verifyNodeCode_ || this.verifyResult_] ?? this.verifyMessage_;
  }
  /** node:tls's `authorized`, read at the handshake. */
  protected get nodeAuthorized(): boolean {
    return this.verifyResult_ === 0 && this.hasPeerCertificate_;
  }
  /** The protocol ALPN agreed on; false before the handshake and when none was. */
  get alpnProtocol(): string | false {
    return this.alpn_;
  }
  /** Client: the server name sent; server: the one the client asked for; or null. */
  get servername(): string | null {
    return this.engine.closed ? null : this.engine.info().servername;
  }

  /** Idle timeout of the TCP socket; 'timeout' is re-emitted here. */
  setTimeout(ms: number, callback?: () => void): this {
    this.engine.socket.setTimeout(ms);
    if (callback) this.once('timeout', callback);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.engine.socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.engine.socket.setKeepAlive(enable, initialDelay);
    return this;
  }
  address(): ReturnType<TlsEngine['socket']['address']> {
    return this.engine.socket.address();
  }
  ref(): this {
    this.engine.socket.ref();
    return this;
  }
  unref(): this {
    this.engine.socket.unref();
    return this;
  }

  getPeerCertificate(): CertificateSummary | null {
    return this.engine.peerCertificate();
  }
  getProtocol(): string | null {
    return this.protocol_;
  }
  /** The handshake resumed an earlier session. */
  isSessionReused(): boolean {
    return this.resumed_;
  }
  /** The cipher suite, as node:tls's `getCipher()`; undefined before the handshake. */
  getCipher(): { name: string; standardName: string; version: string } | undefined {
    return this.cipher_;
  }
  getSession(): Buffer | null {
    return this.engine.getSession();
  }
  info(): SessionInfo {
    return this.engine.info();
  }

  override _read(): void {
    this.engine.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.writeAndWait_(() => this.engine.write(chunk), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: WriteCallback): void {
    this.writeAndWait_(() => this.engine.writev(chunks.map((c) => c.chunk)), callback);
  }

  override _final(callback: WriteCallback): void {
    if (this.engine.closed) return callback();
    // Done once the socket has sent close_notify and FIN (or the connection closed first).
    this.finalCallback_ = callback;
    this.engine.socket.once('finish', () => this.onFinal_());
    this.engine.end();
    if (this.engine.socket.writableFinished) this.onFinal_();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.engine.closed) this.engine.destroy();
    // A write still waiting for the socket fails now, with a typed error.
    this.settleWrite_(error ?? new ClosedError('stream destroyed before the write was sent'));
    callback(error);
  }

  /** Reads what node:tls code asks of an established connection, while the session lives. */
  private recordHandshake_(): void {
    const info = this.engine.info();
    this.alpn_ = info.alpnProtocol ?? false;
    this.protocol_ = info.protocol;
    if (info.cipher && info.protocol)
      this.cipher_ = { name: info.cipher, standardName: info.cipherStandardName ?? info.cipher, version: info.protocol };
    this.verifyResult_ = info.verifyResult;
    this.resumed_ = info.resumed;
    this.verifyMessage_ = info.verifyMessage;
    this.hasPeerCertificate_ = this.engine.peerCertificate() !== null;
    // node:tls's verify callback accepts every error and reports the last:
    // for a lone leaf of an unknown issuer that is "unable to verify the first
    // certificate" (21) where OpenSSL stopped at "no local issuer" (20).
    if (this.verifyResult_ === 20 && this.engine.peerCertificateChain().length === 1) this.verifyNodeCode_ = 21;
  }

  /** A failed connection: to `onClientError` before the handshake, else 'error' if anyone listens. */
  private fail_(err: Error): void {
    if (this.destroyed) return;
    if (!this.engine.secure && this.onClientError_) {
      this.destroy();
      this.onClientError_(err, this);
      return;
    }
    // 'error' is emitted on a later tick: a listener added until then still gets it.
    if (this.listenerCount('error') === 0) this.once('error', noop);
    this.destroy(err);
  }

  private writeAndWait_(write: () => boolean, callback: WriteCallback): void {
    let more: boolean;
    try {
      more = write();
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (more) return callback();
    this.writeCallback_ = callback;
    this.engine.whenDrained().then(
      () => this.settleWrite_(),
      (err: Error) => this.settleWrite_(err),
    );
  }

  /** Completes the write waiting for the socket, once (a later settle finds none). */
  private settleWrite_(error?: Error): void {
    const cb = this.writeCallback_;
    this.writeCallback_ = undefined;
    cb?.(error);
  }

  private onFinal_(): void {
    const cb = this.finalCallback_;
    this.finalCallback_ = undefined;
    cb?.();
  }
}

/**
 * Connects with `connectTls` and returns the connection as a TlsDuplex,
 * ready for `http.request({ createConnection: () => connectTlsDuplex({...}) })`.
 * Written data waits for the handshake.
 */
export function connectTlsDuplex(options: ClientOptions): TlsDuplex {
  return new TlsDuplex(connectTls({ ...options, transport: 'js' }));
}

/**
 * A `createTlsServer` connection handler that hands each connection to
 * `listener` as a TlsDuplex once its handshake completed, the moment node's
 * servers expect (node:http2 reads `alpnProtocol` at once). Connections that
 * fail earlier go to `onClientError` (default: dropped).
 *
 * node:http2 runs a stream that is not a native socket through its own
 * wrapper, so its `Http2Session` reports `encrypted: false` and
 * `alpnProtocol: 'h2c'`; the TlsDuplex itself has the real values.
 *
 * @example
 * const h2 = http2.createServer();
 * createTlsServer({ cert, key, alpnProtocols: ['h2'] }, secureDuplexes((d) => h2.emit('connection', d)));
 */
export function secureDuplexes(
  listener: (duplex: TlsDuplex) => void,
  onClientError: (error: Error, duplex: TlsDuplex) => void = noop,
): (engine: TlsEngine) => void {
  return (engine) => {
    const duplex = new TlsDuplex(engine, { onClientError });
    duplex.once('secure', () => listener(duplex));
  };
}
