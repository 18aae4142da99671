// TLSSocket: the documented TLS socket over the TCP connection of a Socket.
// By default the native transport takes the connection over (tcpAdopt: the
// addon reads and writes a duplicate of its descriptor); `set_transport('js')`
// runs a TlsEngine over the Socket's net.Socket instead. Either way the event
// loop drives the connection (handshake, reads, close_notify) as bytes
// arrive; the methods take what is ready or wait.
import { isIP } from 'node:net';
import type * as net from 'node:net';
import { inspect } from 'node:util';

import { SHUT_WR } from './constants.js';
import { encodeAlpn } from './context-features.js';
import { DEFAULT_HANDSHAKE_TIMEOUT, TlsEngine } from './engine.js';
import { ClosedError, InvalidArgumentError, StateError, type TlsError } from './errors.js';
import type { CertificateSummary, SessionInfo } from './native.js';
import { NativeTlsConnection, adoptNative } from './native-transport.js';
import { startReading, stopReading } from './net-handle.js';
import { ReadBuffer } from './read-buffer.js';
import { sendMessage } from './send-message.js';
import { checkFlags, checkLength, checkMessage, checkTimeout, type SendMessage } from './socket-args.js';
import { CLOSE_FLUSH_TIMEOUT, Socket, kAttach, type SocketInfo } from './socket.js';
import { SSLContext, TLSContext } from './ssl-context.js';

/**
 * Plaintext a TLSSocket buffers before it stops reading from the network
 * (backpressure); reading resumes as `receive`/`read` drain it. One read of
 * ciphertext (64 KiB at most) may overshoot it once; a waiting `read(n)`
 * with a larger `n` reads on until it has its bytes.
 */
export const TLS_SOCKET_HIGH_WATER_MARK = 256 * 1024;

/** What a TLSSocket needs of an `SSL`: its context (the role comes from connect/accept). */
export interface SSLLike {
  readonly context: SSLContext;
}

/**
 * How a TLSSocket moves its ciphertext: `'native'` (the default: the addon
 * takes the TCP connection over and the ciphertext never enters JS) or
 * `'js'` (a TlsEngine over the Socket's `net.Socket`).
 */
export type TLSSocketTransport = 'native' | 'js';

/** The connection a TLSSocket runs: the same members on both transports. */
type Connection = TlsEngine | NativeTlsConnection;

/** What a handshake needs, whichever transport runs it. */
interface HandshakeOptions {
  isServer: boolean;
  handshakeTimeout: number;
  servername?: string;
  verifyHost?: string;
  alpnProtocols?: ReadonlyArray<string>;
  session?: Uint8Array;
}

interface Waiter {
  resolve: () => void;
  reject: (err: TlsError) => void;
}

/**
 * A TLS socket powered by OpenSSL, with the documented API. Methods that may
 * wait on the network return Promises; the others are synchronous. The
 * properties are read-only views of the socket's state at this moment
 * (`send_timeout` and `receive_timeout` may be assigned).
 *
 * A client verifies the server's certificate and that it matches the host
 * given to `connect` unless the context's `set_verify` was called (then the
 * mode is exactly what was set). A server needs a certificate: `load_certs`
 * on its context.
 *
 * Reads give UTF-8 text; `receive_bytes()`/`read_bytes()` give the same
 * bytes as a Buffer, bit-exact. After the peer's close_notify, reads drain
 * what is buffered and then resolve `''` (empty Buffer), and `send` still
 * works (TLS half-close, 1.2 and 1.3 alike) until this side calls
 * `shutdown()` or `close()`: a server can answer a client that sent its
 * request and closed its side. When the connection
 * ended without close_notify they drain and then reject with a
 * TruncationError (code `ERR_TLS_TRUNCATED`).
 *
 * @example
 * const ctx = new TLSClientContext();
 * ctx.set_verify_locations('ca.pem');
 * const client = new TLSSocket(new Socket(), ctx);
 * await client.connect('localhost', 8443);
 * await client.send('GET / HTTP/1.0\r\n\r\n');
 * console.log(await client.read(-1));
 * client.close();
 */
export class TLSSocket {
  readonly #socket: Socket;
  readonly #context: SSLContext;
  #engine: Connection | undefined = undefined;
  #transport: TLSSocketTransport = 'native';
  // The JS transport's socket (reading is switched on it); undefined on native.
  #net: net.Socket | undefined = undefined;
  // The native transport's reading is paused (the plaintext buffer is full).
  #paused = false;
  // Sends waiting for ondrain, and shutdown()s waiting for the FIN to be handed to the kernel.
  #drainWaiters: Waiter[] = [];
  #finishWaiters: Array<() => void> = [];
  #isClient = false;
  #userClosed = false;
  #isShutdown = false;
  #shutdownReason = -1;
  // Client settings for the next connect (set_session, set_alpn_protocols).
  #offerSession: Uint8Array | undefined = undefined;
  #offerAlpn: ReadonlyArray<string> | undefined = undefined;
  // The newest resumable session the server sent: still there after close.
  #session: Buffer | null = null;
  #reused = false;
  #pha: { resolve: (c: CertificateSummary | null) => void; reject: (e: Error) => void } | undefined = undefined;
  readonly #buffer = new ReadBuffer(() => this.#updateReading());

  /**
   * @param socket The TCP socket to run over (default: a new `Socket()`).
   *   It may already be connected: `connect` then only runs the handshake.
   * @param context The context (default: a new `TLSContext`, usable for both roles).
   * @param ssl An `SSL` whose context is used instead of `context`.
   */
  constructor(socket?: Socket | null, context?: SSLContext | null, ssl?: SSLLike | null) {
    if (socket !== undefined && socket !== null && !(socket instanceof Socket))
      throw new InvalidArgumentError('Expected "socket" to be a Socket');
    if (context !== undefined && context !== null && !(context instanceof SSLContext))
      throw new InvalidArgumentError('Expected "context" to be an SSLContext');
    const sslContext = ssl?.context;
    if (ssl !== undefined && ssl !== null && !(sslContext instanceof SSLContext))
      throw new InvalidArgumentError('Expected "ssl" to be an SSL (with a context)');
    this.#socket = socket ?? new Socket();
    this.#context = sslContext ?? context ?? new TLSContext();
  }

  /** The host bound, to be bound to, or connected to. Default `localhost`. */
  get host(): string {
    return this.#socket.host;
  }

  /** The port bound or connected to (the real port once bound, also after `bind(0)`). */
  get port(): number {
    return this.#socket.port;
  }

  /** `AF_INET` (default) or `AF_INET6`. */
  get family(): number {
    return this.#socket.family;
  }

  /** `SOCK_STREAM`. */
  get type(): number {
    return this.#socket.type;
  }

  /** `IPPROTO_TCP`. */
  get protocol(): number {
    return this.#socket.protocol;
  }

  /** The OS descriptor of the underlying socket (-1 when it has none). Do not read it yourself: TLS owns it. */
  get id(): number {
    return this.#socket.id;
  }

  /** True when this socket connected (as a TLS client) to a server. */
  get is_client(): boolean {
    return this.#isClient && !this.is_closed;
  }

  /** True when `bind()` bound the socket and it is not closed. */
  get is_bound(): boolean {
    return this.#socket.is_bound;
  }

  /** True while the TLS connection is up: handshake done, not failed, not closed. */
  get is_connected(): boolean {
    const e = this.#engine;
    return e !== undefined && e.secure && !e.closed && e.error === undefined && !this.is_closed;
  }

  /** True while the socket listens for connections. */
  get is_listening(): boolean {
    return this.#socket.is_listening;
  }

  /** True after `close()`, or once the connection closed and its descriptor was released. */
  get is_closed(): boolean {
    return this.#userClosed || this.#socket.is_closed;
  }

  /** True after `shutdown()`. */
  get is_shutdown(): boolean {
    return this.#isShutdown;
  }

  /** True in blocking mode (the default). */
  get is_blocking(): boolean {
    return this.#socket.is_blocking;
  }

  /** `SHUT_WR` after `shutdown()` (close_notify sent; the peer may still send), or -1. */
  get shutdown_reason(): number {
    return this.#shutdownReason;
  }

  /**
   * Milliseconds a `send` may wait before it fails with a TimeoutError (code
   * `ERR_TLS_TIMEOUT`); the socket is then closed (a record was cut). 0
   * (default) waits for ever. Equal to `SO_SNDTIMEO`.
   */
  get send_timeout(): number {
    return this.#socket.send_timeout;
  }

  set send_timeout(ms: number) {
    this.#socket.send_timeout = ms;
  }

  /**
   * Milliseconds a `receive`/`read`/`accept` waits before it fails with a
   * TimeoutError (code `ERR_TLS_TIMEOUT`); the socket stays usable and
   * nothing received is lost. 0 (default) waits for ever. Equal to `SO_RCVTIMEO`.
   */
  get receive_timeout(): number {
    return this.#socket.receive_timeout;
  }

  set receive_timeout(ms: number) {
    this.#socket.receive_timeout = ms;
  }

  /**
   * Connects to `host` on `port` and runs the TLS handshake as a client
   * (SNI and the certificate check use `host`).
   * @param host `null`/`undefined` uses `this.host`.
   * @param timeout Milliseconds for the TCP connect and the handshake together (default 300 000; 0 for none).
   * @returns true once the handshake is done.
   * @throws CertificateError (`verifyCode`, `verifyMessage`), HandshakeError,
   *   SocketError or TimeoutError; the socket is then closed.
   */
  async connect(host?: string | null, port?: number, timeout: number = 300_000): Promise<boolean> {
    this.#checkOpen();
    if (this.#engine) throw new StateError('socket is already connected');
    const limit = checkTimeout(timeout, 'timeout');
    const started = Date.now();
    if (!this.#socket.is_connected) await this.#socket.connect(host, port, limit);
    const name = host ?? this.#socket.host;
    const left = limit > 0 ? Math.max(1, limit - (Date.now() - started)) : 0;
    this.#isClient = true;
    await this.#handshake({
      isServer: false,
      ...(isIP(name) ? {} : { servername: name }),
      verifyHost: name,
      handshakeTimeout: left,
      ...(this.#offerAlpn !== undefined ? { alpnProtocols: this.#offerAlpn } : {}),
      ...(this.#offerSession !== undefined ? { session: this.#offerSession } : {}),
    });
    return true;
  }

  /**
   * Binds to `port` on `host` (default `this.host`); port 0 picks a free port, which `port` then holds.
   * @returns true
   */
  bind(port: number, host?: string | null): Promise<boolean> {
    this.#checkOpen();
    return this.#socket.bind(port, host);
  }

  /** Listens with a queue of `queue_length` (-1: `SOMAXCONN`). @returns true */
  listen(queue_length: number = -1): Promise<boolean> {
    this.#checkOpen();
    return this.#socket.listen(queue_length);
  }

  /**
   * Waits for a connection, runs the TLS handshake as a server, and returns
   * the connected TLSSocket (same context, timeouts and blocking mode). The
   * handshake may take `receive_timeout` (10 s when that is 0). A failed
   * handshake rejects (HandshakeError, CertificateError, TimeoutError…) and
   * leaves this socket listening.
   * @throws TimeoutError after `receive_timeout`; SocketError EAGAIN in non-blocking mode with nothing pending.
   */
  async accept(): Promise<TLSSocket> {
    this.#checkOpen();
    const socket = await this.#socket.accept();
    const peer = new TLSSocket(socket, this.#context);
    peer.#transport = this.#transport;
    const timeout = this.receive_timeout > 0 ? this.receive_timeout : DEFAULT_HANDSHAKE_TIMEOUT;
    await peer.#handshake({ isServer: true, handshakeTimeout: timeout });
    return peer;
  }

  /**
   * Sends `message` encrypted: a string (UTF-8), bytes, or an open file
   * (`fs.promises.FileHandle`) streamed from disk in chunks with backpressure.
   * @param flags Kept for compatibility; ignored.
   * @returns The number of plaintext bytes sent.
   * @throws TimeoutError after `send_timeout` (the socket is then closed);
   *   StateError when not connected or after `shutdown()`.
   */
  async send(message: SendMessage, flags: number = 0): Promise<number> {
    checkMessage(message);
    checkFlags(flags);
    const engine = this.#connected();
    if (this.#isShutdown) throw new StateError('cannot send after shutdown()');
    return sendMessage(
      message,
      { write: (c) => engine.write(c), copies: true, whenDrained: () => this.#whenDrained() },
      this.send_timeout,
      () => this.close(),
    );
  }

  /**
   * Receives decrypted data as UTF-8 text: -1 (default) returns what is
   * there once something is (never splitting a UTF-8 character), a length
   * waits for that many bytes or the end of the stream. In non-blocking
   * mode it answers at once with what is buffered (possibly `''`).
   * @param flags Kept for compatibility; ignored.
   * @throws TimeoutError after `receive_timeout` (socket stays usable); TruncationError (see the class).
   */
  async receive(length: number = -1, flags: number = 0): Promise<string> {
    return (await this.#receive(length, flags, true)).toString('utf8');
  }

  /** `receive()` as bytes: the Buffer path, bit-exact. Extension. */
  receive_bytes(length: number = -1, flags: number = 0): Promise<Buffer> {
    return this.#receive(length, flags, false);
  }

  /**
   * Reads `length` bytes (default 1024) as UTF-8 text, waiting whatever the
   * blocking mode until that many arrived or the stream ended (-1: until
   * the end of the stream).
   * @throws TimeoutError after `receive_timeout` (socket stays usable); TruncationError.
   */
  async read(length: number = 1024): Promise<string> {
    return (await this.#read(length, true)).toString('utf8');
  }

  /** `read()` as bytes: the Buffer path, bit-exact. Extension. */
  read_bytes(length: number = 1024): Promise<Buffer> {
    return this.#read(length, false);
  }

  /**
   * Extension: decrypted bytes buffered, ready for a read without waiting
   * (Python's `SSLSocket.pending()`). Bounded: past
   * `TLS_SOCKET_HIGH_WATER_MARK` the socket stops reading from the network.
   */
  pending(): number {
    return this.#buffer.length;
  }

  /**
   * Closes the socket: sends close_notify when connected, then the TCP
   * socket closes once queued data is sent. Waiting reads reject with a ClosedError.
   * @returns true, or false when it was already closed.
   */
  close(): boolean {
    if (this.#userClosed) return false;
    this.#userClosed = true;
    this.#buffer.abort(new ClosedError('socket is closed'));
    const e = this.#engine;
    if (e && !e.closed) {
      if (e.secure && e.error === undefined) {
        e.end();
        // As Socket.close(): the connection closes once flushed (onfinish), or after the flush timeout.
        if (e instanceof NativeTlsConnection) {
          if (e.finished) e.destroy();
          else setTimeout(() => e.destroy(), CLOSE_FLUSH_TIMEOUT).unref();
        }
      } else e.destroy();
    }
    // On the native transport the Socket's own descriptor closes after the
    // addon's (onclose): a FIN on it could overtake the queued data.
    if (!(e instanceof NativeTlsConnection) || e.closed) this.#socket.close();
    return true;
  }

  /**
   * Sends close_notify and ends the TCP stream after what was sent
   * (`shutdown_reason` becomes `SHUT_WR`); reads go on until the peer's
   * close_notify. Resolves once it was handed to the kernel.
   * @returns true
   */
  async shutdown(): Promise<boolean> {
    const engine = this.#connected();
    this.#isShutdown = true;
    this.#shutdownReason = SHUT_WR;
    engine.end();
    if (!engine.finished && !engine.closed) await new Promise<void>((resolve) => this.#finishWaiters.push(resolve));
    return true;
  }

  /** Sets an `SO_` option (or `TCP_NODELAY`) on the underlying socket. @returns true */
  set_option(option: number, value: unknown): boolean {
    this.#checkOpen();
    return this.#socket.set_option(option, value);
  }

  /** Gets an option of the underlying socket. */
  get_option(option: number): boolean | number {
    this.#checkOpen();
    return this.#socket.get_option(option);
  }

  /** `true` for blocking mode (default), `false` for non-blocking (see `receive` and `accept`). */
  set_blocking(mode: boolean): void {
    this.#checkOpen();
    this.#socket.set_blocking(mode);
  }

  /** The local address, port and family, or an empty object. */
  info(): SocketInfo | Record<string, never> {
    return this.#socket.info();
  }

  /** The underlying Socket. */
  get_socket(): Socket {
    return this.#socket;
  }

  /** The SSLContext this socket uses. */
  get_context(): SSLContext {
    return this.#context;
  }

  /** Extension: protocol, cipher, verify result… of the connection; null before the handshake and after close. */
  get_session_info(): SessionInfo | null {
    return this.#live()?.info() ?? null;
  }

  /** Extension: the peer's certificate, or null when it sent none (or before the handshake, or after close). */
  get_peer_certificate(): CertificateSummary | null {
    return this.#live()?.peerCertificate() ?? null;
  }

  // --- TLS feature extensions (per connection; the context holds the rest:
  // SNI, server ALPN list, ticket keys, keylog apply to accepted sockets too) ---

  /**
   * Extension (client): the newest resumable session of this connection, as
   * bytes to give `set_session` on a later socket (keep them secret: they
   * hold the resumption secret), or null while there is none. In TLS 1.3
   * the server's ticket arrives just after the handshake (with or before its
   * first data); the last one stays available after `close()`.
   */
  get_session(): Buffer | null {
    const e = this.#live();
    if (e) this.#session = e.getSession() ?? this.#session;
    return this.#session;
  }

  /**
   * Extension (client, before `connect`): offers `session` (from
   * `get_session()` of an earlier connection to the same server) for
   * resumption; `is_session_reused()` then tells whether the server took it.
   * A session that does not decode makes `connect` reject (InvalidArgumentError).
   * @throws StateError once connected.
   */
  set_session(session: Uint8Array | null): void {
    if (session !== null && !(session instanceof Uint8Array))
      throw new InvalidArgumentError('Expected "session" to be a Buffer from get_session(), or null');
    this.#checkUnconnected('set_session');
    this.#offerSession = session === null || session.length === 0 ? undefined : session;
  }

  /**
   * Extension (before `connect`/`accept`): `'native'` (default) hands the TCP
   * connection to the addon, so the ciphertext never enters JS; `'js'` runs
   * the TLS engine over the Socket's `net.Socket`. Sockets `accept` returns
   * use the listening socket's transport. The Socket keeps its addresses and
   * options either way; with `'native'` it must not be read or written.
   * @throws InvalidArgumentError for another value; StateError once connected.
   */
  set_transport(transport: TLSSocketTransport): void {
    this.#checkUnconnected('set_transport');
    if (transport !== 'native' && transport !== 'js') throw new InvalidArgumentError('Expected "transport" to be "native" or "js"');
    this.#transport = transport;
  }

  /** Extension: the transport the connection runs (or will run) on. */
  get_transport(): TLSSocketTransport {
    return this.#transport;
  }

  /** Extension: true when the handshake resumed a session (abbreviated handshake). */
  is_session_reused(): boolean {
    return this.#reused;
  }

  /** Extension: `is_session_reused()` as a property. */
  get session_reused(): boolean {
    return this.#reused;
  }

  /**
   * Extension (client, before `connect`): ALPN protocols to offer, most
   * preferred first (`['h2', 'http/1.1']`), instead of the context's list;
   * `null` goes back to the context's. A server (and its accepted sockets)
   * picks from its context's list: `SSLContext.set_alpn_protocols`.
   * @throws InvalidArgumentError for an empty name or one over 255 bytes; StateError once connected.
   */
  set_alpn_protocols(protocols: ReadonlyArray<string> | null): void {
    if (protocols !== null) encodeAlpn(protocols); // validates now, not at connect
    this.#checkUnconnected('set_alpn_protocols');
    this.#offerAlpn = protocols === null ? undefined : [...protocols];
  }

  /** Extension: the ALPN protocol both sides agreed on, or null (none, or not connected). */
  get_alpn_protocol(): string | null {
    return this.#live()?.alpnProtocol ?? null;
  }

  /**
   * Extension: the peer's certificates, leaf first, as it sent them, or
   * (`verified`) the chain OpenSSL built and verified up to the trust
   * anchor. Empty when it sent none (or before the handshake).
   */
  get_peer_certificate_chain(verified = false): CertificateSummary[] {
    if (typeof verified !== 'boolean') throw new InvalidArgumentError('Expected "verified" to be a boolean');
    return this.#live()?.peerCertificateChain(verified) ?? [];
  }

  /**
   * Extension: `length` bytes of keying material (RFC 5705, RFC 8446 §7.5)
   * for `label` and optional `context`; both sides derive the same bytes.
   * @throws StateError when not connected.
   */
  export_keying_material(length: number, label: string, context?: Uint8Array | string): Buffer {
    return this.#connected().exportKeyingMaterial(length, label, context);
  }

  /**
   * Extension (server, TLS 1.3): asks the connected client for its
   * certificate now (post-handshake authentication; the client must have
   * offered it: `openssl s_client -enable_pha`, or an rxtls client whose
   * context has a certificate). Sends wait until the client answered. The
   * context's verify mode applies: with `SSL_VERIFY_FAIL_IF_NO_PEER_CERT` a
   * client that sends none fails the connection.
   * @returns the client's certificate, or null when it sent none.
   * @throws StateError on a client, under TLS 1.2, when the client did not
   *   offer it, or while another request runs; the connection's error if it fails meanwhile.
   */
  async verify_client_post_handshake(): Promise<CertificateSummary | null> {
    const engine = this.#connected();
    if (this.#isClient) throw new StateError('only a server asks for a certificate after the handshake');
    if (this.#pha) throw new StateError('a post-handshake authentication is already running');
    engine.verifyClientPostHandshake();
    return new Promise<CertificateSummary | null>((resolve, reject) => {
      this.#pha = { resolve, reject };
      engine.onpeercertificate = (cert) => {
        this.#pha = undefined;
        resolve(cert);
      };
      // The answer must be read even when the plaintext buffer is full.
      this.#updateReading();
    });
  }

  toString(): string {
    return `<TLSSocket closed: ${this.is_closed}, listening: ${this.is_listening}, connected: ${this.is_connected}, bound: ${this.is_bound}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  // -------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#userClosed) throw new ClosedError('socket is closed');
  }

  /** The connection while its native session exists and the socket is not closed. */
  #live(): Connection | undefined {
    const e = this.#engine;
    return e && !e.closed && !this.is_closed ? e : undefined;
  }

  #checkUnconnected(op: string): void {
    this.#checkOpen();
    if (this.#engine) throw new StateError(`${op}() before connect(): the socket is already connected`);
  }

  /** A waiting `verify_client_post_handshake` fails with the connection. */
  #failPha(err: Error): void {
    const pha = this.#pha;
    this.#pha = undefined;
    pha?.reject(err);
  }

  #connected(): Connection {
    this.#checkOpen();
    const e = this.#engine;
    if (!e) throw new StateError('socket is not connected');
    if (e.error) throw e.error;
    if (!e.secure || e.closed) throw new StateError('socket is not connected');
    return e;
  }

  /** Starts the connection on the chosen transport and waits for the handshake. */
  async #handshake(options: HandshakeOptions): Promise<void> {
    let engine: Connection;
    // JS transport: bytes the Socket read before, fed once the handlers are set.
    let buffered: Buffer | undefined;
    try {
      if (this.#transport === 'native') {
        // The Socket stops reading for good; the addon reads its descriptor
        // and takes what the Socket had read as its first input.
        const initial = this.#socket[kAttach](() => false).buffered;
        engine = adoptNative({ ...options, context: this.#context, fd: this.#socket.id, initial, allowHalfOpen: true });
      } else {
        const transport = this.#socket[kAttach]((n, buf) => {
          (this.#engine as TlsEngine | undefined)?.feed(buf, n);
          return this.#wantsData();
        });
        // Half-open: after the peer's close_notify this side may still send
        // until it calls shutdown()/close() itself (receive, send, close).
        engine = new TlsEngine(transport.net, this.#context, { ...options, allowHalfOpen: true }, false);
        this.#net = transport.net;
        buffered = transport.buffered;
      }
    } catch (err) {
      this.close();
      throw err;
    }
    this.#engine = engine;
    const secure = new Promise<void>((resolve, reject) => {
      engine.onsecure = () => {
        this.#reused = engine.resumed;
        resolve();
      };
      engine.onerror = (err) => {
        this.#buffer.end(err);
        this.#failPha(err);
        this.#failWaits(err);
        reject(err);
      };
      engine.onclose = (err) => {
        const closed = err ?? new ClosedError('connection closed during the handshake');
        this.#buffer.end(err);
        this.#failPha(err ?? new ClosedError('connection closed'));
        this.#failWaits(err ?? new ClosedError('the connection is closed'));
        // The native transport's connection is gone: the Socket's descriptor goes too.
        this.#socket.close();
        reject(closed);
      };
    });
    engine.onsession = (session) => {
      this.#session = session;
    };
    engine.ondata = (chunk) => {
      this.#buffer.push(chunk);
      if (this.#net === undefined) this.#updateReading();
    };
    engine.onend = () => this.#buffer.end();
    engine.ondrain = () => {
      for (const w of this.#drainWaiters.splice(0)) w.resolve();
    };
    engine.onfinish = () => {
      for (const resolve of this.#finishWaiters.splice(0)) resolve();
      // close() waited for this: the native transport's flush is done.
      if (this.#userClosed && engine instanceof NativeTlsConnection) engine.destroy();
    };
    // Bytes the plain socket had already read belong to the handshake.
    if (buffered !== undefined && buffered.length > 0) (engine as TlsEngine).feed(buffered, buffered.length);
    this.#updateReading();
    try {
      await secure;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** A send waits here after `write` returned false. */
  #whenDrained(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** The connection failed or closed: waiting sends reject, waiting shutdowns resolve. */
  #failWaits(err: TlsError): void {
    for (const w of this.#drainWaiters.splice(0)) w.reject(err);
    for (const resolve of this.#finishWaiters.splice(0)) resolve();
  }

  /**
   * Read on while below the high-water mark, or while a read waits for more
   * than is buffered (a `read(n)` larger than the mark must be able to complete).
   */
  #wantsData(): boolean {
    return (
      !this.#buffer.ended &&
      (this.#buffer.length < TLS_SOCKET_HIGH_WATER_MARK || this.#buffer.waiting || this.#pha !== undefined)
    );
  }

  /** The loop reads while the plaintext buffer is below the high-water mark. */
  #updateReading(): void {
    const engine = this.#engine;
    if (!engine) return;
    const want = this.#wantsData();
    const sock = this.#net;
    if (sock) {
      if (want) startReading(sock);
      else if (!this.#buffer.ended) stopReading(sock);
    } else if (want === this.#paused && !engine.closed) {
      this.#paused = !want;
      if (want) engine.resume();
      else engine.pause();
    }
  }

  #readRequest(length: number, flags: unknown): number {
    this.#checkOpen();
    checkFlags(flags);
    const n = checkLength(length);
    if (!this.#engine) throw new StateError('socket is not connected');
    return n;
  }

  async #receive(length: number, flags: unknown, text: boolean): Promise<Buffer> {
    const n = this.#readRequest(length, flags);
    if (n === 0) return Buffer.alloc(0);
    if (!this.is_blocking) return this.#buffer.takeNow(n, text);
    return this.#buffer.take({ min: n === -1 ? 1 : n, max: n, text, timeout: this.receive_timeout });
  }

  async #read(length: number, text: boolean): Promise<Buffer> {
    const n = this.#readRequest(length, 0);
    if (n === 0) return Buffer.alloc(0);
    return this.#buffer.take({ min: n === -1 ? Infinity : n, max: n, text, timeout: this.receive_timeout });
  }
}
