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

/**
 * Presents a `TlsEngine` as a Duplex stream of plaintext. Reading pauses the
 * socket when the stream's buffer is full; writing waits for the engine's
 * `whenDrained()`. A clean TLS close ends the readable side; a failure destroys the
 * stream with the engine's error. Emits 'secureConnect' (and 'secure') when
 * the handshake is done.
 *
 * It carries the socket-like members node:http uses (`remoteAddress`,
 * `setTimeout`, `setNoDelay`, `setKeepAlive`, `encrypted`, …) and the TLS
 * ones of `tls.TLSSocket` that HTTPS code reads (`authorized`,
 * `authorizationError`, `getPeerCertificate`, `alpnProtocol`, `getProtocol`).
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

  constructor(engine: TlsEngine) {
    // The engine owns half-close: its end() sends close_notify and ends TCP.
    super({ allowHalfOpen: true, decodeStrings: true });
    this.engine = engine;
    engine.onsecure = () => {
      this.emit('secureConnect');
      this.emit('secure');
      this.emit('connect');
    };
    engine.ondata = (chunk) => {
      if (!this.push(chunk)) engine.pause();
    };
    engine.onend = () => this.push(null);
    engine.onerror = (err) => this.destroy(err);
    engine.onclose = (err) => {
      const cb = this.finalCallback_;
      this.finalCallback_ = undefined;
      cb?.();
      if (err) this.destroy(err);
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
  get alpnProtocol(): string | false {
    return this.engine.alpnProtocol ?? false;
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
    return this.engine.info().protocol;
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
  return new TlsDuplex(connectTls(options));
}
