// A TLS connection as a `stream.Duplex`, for APIs that take a socket-like
// stream: `http.Server#emit('connection', duplex)` serves HTTPS and
// `http.request({ createConnection })` sends it. It runs over either
// transport (any SecureConnection): the connection stays the hot path, this
// adapter only maps its handlers onto stream calls, without copying.
import { Duplex } from 'node:stream';
import type { Socket as NetSocket } from 'node:net';

import { authorizationErrorOf } from './authorization.js';
import { TlsEngine } from './engine.js';
import { ClosedError, InvalidArgumentError, type CertificateError, type TlsError } from './errors.js';
import { IdleTimer } from './idle-timer.js';
import type { CertificateSummary, SessionInfo } from './native.js';
import type { SecureConnection } from './secure-connection.js';

type WriteCallback = (error?: Error | null) => void;

/** Options of a TlsDuplex. */
export interface TlsDuplexOptions {
  /**
   * Receives an error that ends the connection before its handshake
   * completed (as node:tls's `tlsClientError`); the stream is then destroyed
   * without an 'error' event. (A native server never hands out a connection
   * before it is secure: its early failures go to its 'tlsClientError'.)
   */
  onClientError?: (error: Error, duplex: TlsDuplex) => void;
}

/** What the stream asks of the TCP side: the net.Socket of a TlsEngine, or a native connection itself. */
interface TcpSide {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly remoteFamily?: string | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  setNoDelay?(noDelay?: boolean): unknown;
  setKeepAlive?(enable?: boolean, initialDelay?: number): unknown;
  ref?(): unknown;
  unref?(): unknown;
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

// Writes of several chunks up to one TLS record's worth are joined: one
// record costs less than copying a few hundred bytes (node:http corks its
// headers and body into such a batch).
const JOIN_LIMIT = 16 * 1024;


const noop = (): void => {};

/** What the connections' write takes: a Buffer, or a string they encode as UTF-8. */
type Data = Buffer | string;

/**
 * A chunk as the connection takes it. A string goes as it is when its UTF-8
 * bytes are those of `encoding` (always for UTF-8; for node:http's latin1
 * headers when they are ASCII, which the byte count tells): the connection
 * encodes it without a Buffer in between.
 */
function dataOf(chunk: Data, encoding: BufferEncoding): Data {
  if (typeof chunk !== 'string') return chunk;
  if (encoding === 'utf8' || encoding === 'utf-8') return chunk;
  if ((encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii') && Buffer.byteLength(chunk) === chunk.length) return chunk;
  return Buffer.from(chunk, encoding);
}

/** Several chunks up to JOIN_LIMIT as one (one record), else as they are. */
function joined(list: Data[]): Data | Data[] {
  let total = 0;
  let strings = true;
  for (const d of list) {
    total += d.length;
    if (typeof d !== 'string') strings = false;
  }
  if (total > JOIN_LIMIT) return list;
  if (strings) return list.join('');
  return Buffer.concat(list.map((d) => (typeof d === 'string' ? Buffer.from(d) : d)));
}

/**
 * Presents a TLS connection (a `TlsEngine` or a `NativeTlsConnection`: any
 * `SecureConnection`) as a Duplex stream of plaintext. A full read buffer
 * pauses the connection and `_read` resumes it; a write that fills the
 * connection's buffer completes on its `ondrain`, and writes before the
 * handshake wait for it in the stream's buffer. A clean TLS close ends
 * the readable side; a failure destroys the stream with the connection's
 * error. Emits 'secureConnect', 'secure' and 'connect' when the handshake
 * is done (on the next microtask for a connection already secure, unless
 * the connection's own `onsecure` comes first, as a native server's does).
 *
 * It carries the socket-like members node:http uses (`remoteAddress`,
 * `setTimeout`, `setNoDelay`, `setKeepAlive`, `ref`, `unref`, `encrypted`,
 * `cork`/`uncork`, which batch writes into one call) and the TLS ones of
 * `tls.TLSSocket` (`authorized`, `authorizationError`, `alpnProtocol`,
 * `getPeerCertificate`, `getProtocol`, `getCipher`, `getSession`,
 * `isSessionReused`): `alpnProtocol` is false until the handshake is done or
 * when none was agreed, as in node:tls. So hand it to node:http2 (which
 * drops a connection whose `alpnProtocol` is false) only once secure: see
 * `secureDuplexes`. `authorizationError` is a CertificateError here
 * (`@rxtls/core/tls` sockets give node:tls's string).
 *
 * An error with no 'error' listener never throws: the stream is destroyed
 * and the error stays readable as `connection.error`.
 *
 * The stream owns the connection's `on*` handlers (`onsession` excepted).
 *
 * @example
 * const http = createServer((req, res) => res.end('hello'));
 * createTlsDuplexServer({ cert, key }, (duplex) => http.emit('connection', duplex)).listen(8443);
 */
export class TlsDuplex<C extends SecureConnection = SecureConnection> extends Duplex {
  /** The connection this stream wraps. */
  readonly connection: C;
  /** Always true: node:http reads it to tell HTTPS from HTTP. */
  readonly encrypted = true;
  // The JS transport's socket; undefined on the native transport.
  private readonly socket_: NetSocket | undefined;
  private readonly tcp_: TcpSide;
  // The native transport's setTimeout (net.Socket has its own).
  private idle_: IdleTimer | undefined = undefined;
  private writeCallback_: WriteCallback | undefined = undefined;
  // The write that waits for the handshake (its callback is writeCallback_).
  private early_: (() => boolean) | undefined = undefined;
  private finalCallback_: WriteCallback | undefined = undefined;
  private paused_ = false;
  private noDelay_ = true; // the native transport's TCP_NODELAY
  private secureEmitted_ = false;
  private recorded_ = false;
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

  constructor(connection: C, options: TlsDuplexOptions = {}) {
    // The connection owns half-close: its end() sends close_notify and ends TCP.
    // Strings reach _write as they are: both transports encode them natively (see dataOf).
    super({ allowHalfOpen: true, decodeStrings: false });
    this.connection = connection;
    this.onClientError_ = options.onClientError;
    this.socket_ = connection instanceof TlsEngine ? connection.socket : undefined;
    this.tcp_ = this.socket_ ?? (connection as unknown as TcpSide);
    const onSecure = (): void => {
      if (this.secureEmitted_) return;
      this.secureEmitted_ = true;
      if (!this.recorded_) this.recordHandshake_();
      this.emit('secureConnect');
      this.emit('secure');
      this.emit('connect');
      this.sendEarly_();
    };
    connection.onsecure = onSecure;
    connection.ondata = (chunk) => {
      this.idle_?.touch();
      if (!this.push(chunk) && !this.paused_) {
        this.paused_ = true;
        connection.pause();
      }
    };
    connection.onend = () => this.push(null);
    connection.onerror = (err) => this.fail_(err);
    connection.ondrain = () => {
      this.idle_?.touch(); // the peer is reading: activity, as a net.Socket's write progress
      // A write waiting for the handshake is not completed by a drain.
      if (this.early_ === undefined) this.settleWrite_();
    };
    connection.onclose = (err) => {
      this.idle_?.stop();
      if (this.writeCallback_) this.settleWrite_(err ?? new ClosedError('the connection closed before the write was sent'));
      this.onFinal_();
      if (err) this.fail_(err);
      else if (!this.destroyed) {
        // Clean close: end the readable side, and destroy once it was read (as net.Socket does on 'close').
        this.push(null);
        if (this.readableEnded) this.destroy();
        else this.once('end', () => this.destroy());
      }
    };
    this.socket_?.on('timeout', () => this.emit('timeout'));
    if (connection.secure) {
      this.recordHandshake_();
      queueMicrotask(onSecure);
    }
  }

  /** The connection this stream wraps (the name from when it was always a TlsEngine). */
  get engine(): C {
    return this.connection;
  }

  /** Still in the handshake (as `net.Socket#connecting`). */
  get connecting(): boolean {
    return !this.connection.secure && !this.connection.closed;
  }

  get remoteAddress(): string | undefined {
    return this.tcp_.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.tcp_.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.tcp_.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.tcp_.localAddress;
  }
  get localPort(): number | undefined {
    return this.tcp_.localPort;
  }
  /** The peer sent a certificate and it verified (`TlsEngine.authorized`). */
  get authorized(): boolean {
    const c = this.connection;
    if (c instanceof TlsEngine) return c.authorized;
    return c.secure && authorizationErrorOf(c) === null;
  }
  /**
   * Why not `authorized` (as `TlsEngine.authorizationError`): a
   * CertificateError with `verifyCode`/`verifyMessage`, or null. node:tls gives a string code here.
   */
  get authorizationError(): CertificateError | null {
    const c = this.connection;
    if (c instanceof TlsEngine) return c.authorizationError;
    return c.secure ? authorizationErrorOf(c) : null;
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
    return this.connection.closed ? null : this.connection.info().servername;
  }

  /** 'timeout' after `ms` milliseconds without reads or writes (0: never), as `net.Socket#setTimeout`. */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || !(ms >= 0))
      throw new InvalidArgumentError('Expected "ms" to be a number of milliseconds, 0 or more');
    if (this.socket_) this.socket_.setTimeout(ms);
    else if (ms !== 0 || this.idle_) (this.idle_ ??= new IdleTimer(() => this.emit('timeout'))).set(ms);
    if (callback) this.once('timeout', callback);
    return this;
  }
  setNoDelay(noDelay = true): this {
    if (this.socket_) this.socket_.setNoDelay(noDelay); // net skips a call that changes nothing
    else if (noDelay !== this.noDelay_) {
      // node:http asks for it on every connection; the native transport starts with it on.
      this.noDelay_ = noDelay;
      this.tcp_.setNoDelay?.(noDelay);
    }
    return this;
  }
  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.tcp_.setKeepAlive?.(enable ?? false, initialDelay);
    return this;
  }
  /** The local end, as `net.Socket#address()` (`{}` when unknown). */
  address(): ReturnType<NetSocket['address']> {
    if (this.socket_) return this.socket_.address();
    const { localAddress, localPort, remoteFamily } = this.tcp_;
    if (localAddress === undefined || localPort === undefined) return {};
    return { address: localAddress, family: remoteFamily ?? (localAddress.includes(':') ? 'IPv6' : 'IPv4'), port: localPort };
  }
  /** Keep the process alive while the connection is open (the default). */
  ref(): this {
    this.tcp_.ref?.();
    return this;
  }
  unref(): this {
    this.tcp_.unref?.();
    return this;
  }

  getPeerCertificate(): CertificateSummary | null {
    return this.connection.peerCertificate();
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
    return this.connection.getSession();
  }
  info(): SessionInfo {
    return this.connection.info();
  }

  override _read(): void {
    if (!this.paused_) return;
    this.paused_ = false;
    this.connection.resume();
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: WriteCallback): void {
    const data = dataOf(chunk, encoding);
    if (this.beforeHandshake_()) return this.holdForHandshake_(() => this.connection.write(data), callback);
    let more: boolean;
    try {
      more = this.connection.write(data);
    } catch (err) {
      return callback(err as Error);
    }
    this.wrote_(more, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, callback: WriteCallback): void {
    const list = chunks.map((c) => dataOf(c.chunk, c.encoding));
    const data = joined(list);
    if (this.beforeHandshake_()) return this.holdForHandshake_(() => this.writeData_(data), callback);
    let more: boolean;
    try {
      more = this.writeData_(data);
    } catch (err) {
      return callback(err as Error);
    }
    this.wrote_(more, callback);
  }

  override _final(callback: WriteCallback): void {
    const c = this.connection;
    if (c.closed) return callback();
    this.finalCallback_ = callback;
    // Done once close_notify and FIN are with the kernel (or the connection closed first: onclose).
    const socket = this.socket_;
    if (!socket) {
      if (c.finished) return this.onFinal_();
      c.onfinish = () => this.onFinal_();
    }
    c.end();
    if (socket) {
      if (socket.writableFinished) this.onFinal_();
      else socket.once('finish', () => this.onFinal_());
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.idle_?.stop();
    if (!this.connection.closed) this.connection.destroy();
    // A write still waiting for the connection fails now, with a typed error (made only then: errors cost a stack).
    if (this.writeCallback_) this.settleWrite_(error ?? new ClosedError('stream destroyed before the write was sent'));
    callback(error);
  }

  /** Reads what node:tls code asks of an established connection, while the session lives. */
  private recordHandshake_(): void {
    const c = this.connection;
    this.recorded_ = true;
    const info = c.info();
    this.alpn_ = info.alpnProtocol ?? false;
    this.protocol_ = info.protocol;
    if (info.cipher && info.protocol)
      this.cipher_ = { name: info.cipher, standardName: info.cipherStandardName ?? info.cipher, version: info.protocol };
    this.verifyResult_ = info.verifyResult;
    this.resumed_ = info.resumed;
    this.verifyMessage_ = info.verifyMessage;
    this.hasPeerCertificate_ = c.peerCertificate() !== null;
    // node:tls's verify callback accepts every error and reports the last:
    // for a lone leaf of an unknown issuer that is "unable to verify the first
    // certificate" (21) where OpenSSL stopped at "no local issuer" (20).
    if (this.verifyResult_ === 20 && c.peerCertificateChain().length === 1) this.verifyNodeCode_ = 21;
  }

  /** A failed connection: to `onClientError` before the handshake, else 'error' if anyone listens. */
  private fail_(err: Error): void {
    if (this.destroyed) return;
    if (!this.secureEmitted_ && !this.connection.secure && this.onClientError_) {
      this.destroy();
      this.onClientError_(err, this);
      return;
    }
    // 'error' is emitted on a later tick: a listener added until then still gets it.
    if (this.listenerCount('error') === 0) this.once('error', noop);
    this.destroy(err);
  }

  private writeData_(data: Data | Data[]): boolean {
    return Array.isArray(data) ? this.connection.writev(data) : this.connection.write(data);
  }

  /**
   * A client still in its handshake: writes wait for it here. Both
   * transports would queue them without a limit, so until then the stream's
   * own buffer is the backpressure.
   */
  private beforeHandshake_(): boolean {
    const c = this.connection;
    return !c.secure && !c.closed && !this.secureEmitted_;
  }

  private holdForHandshake_(write: () => boolean, callback: WriteCallback): void {
    this.early_ = write;
    this.writeCallback_ = callback;
  }

  /** The handshake is done: the write that waited for it goes out. */
  private sendEarly_(): void {
    const write = this.early_;
    const callback = this.writeCallback_;
    if (write === undefined || callback === undefined) return;
    this.early_ = undefined;
    this.writeCallback_ = undefined;
    let more: boolean;
    try {
      more = write();
    } catch (err) {
      return callback(err as Error);
    }
    this.wrote_(more, callback);
  }

  /** After a write: complete it now, or when the connection drains (`ondrain`). */
  private wrote_(more: boolean, callback: WriteCallback): void {
    this.idle_?.touch();
    if (more) return callback();
    this.writeCallback_ = callback;
  }

  /** Completes the write waiting for the connection, once (a later settle finds none). */
  private settleWrite_(error?: TlsError | Error): void {
    const cb = this.writeCallback_;
    if (cb === undefined) return;
    this.writeCallback_ = undefined;
    this.early_ = undefined;
    cb(error);
  }

  private onFinal_(): void {
    const cb = this.finalCallback_;
    this.finalCallback_ = undefined;
    cb?.();
  }
}
