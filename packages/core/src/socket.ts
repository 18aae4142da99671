// Socket: the plain TCP socket of the documented API, on node:net. TLSSocket
// wraps one; SSL.set_fd runs OpenSSL on its descriptor (`id`).
import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import { inspect } from 'node:util';

import {
  AF_INET,
  AF_INET6,
  IPPROTO_TCP,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_STREAM,
  SOMAXCONN,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SO_RCVTIMEO,
  SO_REUSEADDR,
  SO_SNDBUF,
  SO_SNDTIMEO,
  TCP_NODELAY,
} from './constants.js';
import { ClosedError, InvalidArgumentError, SocketError, StateError, TimeoutError, socketError, type TlsError } from './errors.js';
import {
  adoptAcceptedSocket,
  createPausedSocket,
  descriptorOf,
  startReading,
  stopReading,
  type ChunkCallback,
} from './net-handle.js';
import { DrainSignal } from './drain.js';
import { ReadBuffer } from './read-buffer.js';
import { sendMessage } from './send-message.js';
import { checkFlags, checkHost, checkLength, checkMessage, checkPort, checkTimeout, type SendMessage } from './socket-args.js';
import { hasNativeSockopt, nativeSockopt } from './sockopt.js';

/** What `info()` returns for a socket that has an address. */
export interface SocketInfo {
  address: string;
  port: number;
  /** `AF_INET` or `AF_INET6`. */
  family: number;
}

/** @internal What a TLSSocket takes over: the transport, and plaintext bytes read before it did. */
export interface AttachedTransport {
  net: net.Socket;
  buffered: Buffer;
}

/** @internal Hands the socket's transport to a TLSSocket. */
export const kAttach = Symbol('rxtls.socket.attach');

/** Connections accepted by the OS but not yet by `accept()`, at most this many (the rest are refused). */
const kMaxPendingConnections = SOMAXCONN;

/** @internal Closing waits this long at most for queued data to flush before the descriptor is released. */
export const CLOSE_FLUSH_TIMEOUT = 30_000;

interface AcceptWaiter {
  resolve: (socket: net.Socket) => void;
  reject: (err: TlsError) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A TCP socket (`AF_INET`/`AF_INET6`, `SOCK_STREAM`, `IPPROTO_TCP`) with the
 * documented socket API. Methods that may wait on the network return
 * Promises; the others are synchronous. Properties are read-only views of
 * the socket's state at this moment, except `send_timeout` and
 * `receive_timeout`, which may be assigned.
 *
 * Reads: `receive()`/`read()` give UTF-8 text; `receive_bytes()`/`read_bytes()`
 * give the same bytes as a Buffer, bit-exact. A length counts bytes.
 *
 * @example
 * const client = new Socket();
 * await client.connect('localhost', 8080);
 * await client.send('ping');
 * console.log(await client.receive());
 * client.close();
 */
export class Socket {
  readonly #family: number;
  readonly #type: number;
  readonly #protocol: number;
  #host = 'localhost';
  #port = 0;
  #net: net.Socket | undefined = undefined;
  #server: net.Server | undefined = undefined;
  #backlog = 0;
  #isClient = false;
  #isBound = false;
  #isListening = false;
  #connected = false;
  #userClosed = false;
  #transportClosed = false;
  #isShutdown = false;
  #shutdownReason = -1;
  #readShut = false;
  #blocking = true;
  #sendTimeout = 0;
  #receiveTimeout = 0;
  #keepAlive = false;
  #noDelay = false;
  #reuseAddr = false;
  #sink: ChunkCallback | undefined = undefined;
  readonly #buffer = new ReadBuffer(() => this.#updateReading());
  readonly #drain = new DrainSignal();
  readonly #pending: net.Socket[] = [];
  readonly #acceptWaiters: AcceptWaiter[] = [];

  /**
   * @param family `AF_INET` (default) or `AF_INET6`.
   * @param type `SOCK_STREAM` (the default and only supported type).
   * @param protocol `IPPROTO_TCP` (the default and only supported protocol; 0 means the same).
   * @throws InvalidArgumentError for any other family, type or protocol.
   */
  constructor(family: number = AF_INET, type: number = SOCK_STREAM, protocol: number = IPPROTO_TCP) {
    if (family !== AF_INET && family !== AF_INET6) throw new InvalidArgumentError('Expected "family" to be AF_INET or AF_INET6');
    if (type !== SOCK_STREAM) throw new InvalidArgumentError('Expected "type" to be SOCK_STREAM (the only type supported)');
    if (protocol !== IPPROTO_TCP && protocol !== 0)
      throw new InvalidArgumentError('Expected "protocol" to be IPPROTO_TCP (the only protocol supported)');
    this.#family = family;
    this.#type = type;
    this.#protocol = IPPROTO_TCP;
  }

  /** The host bound, to be bound to, or connected to (for an accepted socket: the peer's address). Default `localhost`. */
  get host(): string {
    return this.#host;
  }

  /** The port bound or connected to (the real port once bound, also after `bind(0)`); 0 before. */
  get port(): number {
    return this.#port;
  }

  /** `AF_INET` (default) or `AF_INET6`. */
  get family(): number {
    return this.#family;
  }

  /** `SOCK_STREAM`. */
  get type(): number {
    return this.#type;
  }

  /** `IPPROTO_TCP`. */
  get protocol(): number {
    return this.#protocol;
  }

  /**
   * The OS file descriptor (`-1` until `connect`/`bind`/`accept` made one, and after close).
   *
   * The descriptor may be handed to OpenSSL (`SSL.set_fd(sock.id)`): this
   * socket reads from it only while a `receive()`/`read()` waits on it
   * (a non-blocking `receive()` reads for one turn of the event loop), so
   * bytes that arrive otherwise stay in the kernel for whoever reads next.
   */
  get id(): number {
    return descriptorOf(this.#net ?? this.#server);
  }

  /** True when this socket connected to a server (`connect()`); false for listening and accepted sockets. */
  get is_client(): boolean {
    return this.#isClient && !this.is_closed;
  }

  /** True when `bind()` bound the socket to a local port and it is not closed. */
  get is_bound(): boolean {
    return this.#isBound && !this.is_closed;
  }

  /** True while the TCP connection is established (connected or accepted, not closed). */
  get is_connected(): boolean {
    return this.#connected && !this.is_closed;
  }

  /** True while the socket listens for connections (`listen()`). */
  get is_listening(): boolean {
    return this.#isListening && !this.is_closed;
  }

  /** True after `close()`, or once the connection closed and the descriptor was released. */
  get is_closed(): boolean {
    return this.#userClosed || this.#transportClosed;
  }

  /** True after `shutdown()`. */
  get is_shutdown(): boolean {
    return this.#isShutdown;
  }

  /** True in blocking mode (the default); see `set_blocking`. */
  get is_blocking(): boolean {
    return this.#blocking;
  }

  /** The `how` of the last `shutdown(how)` (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`), or -1 if none. */
  get shutdown_reason(): number {
    return this.#shutdownReason;
  }

  /**
   * Milliseconds a `send` may wait for the socket to drain before it fails
   * with a TimeoutError (code `ERR_TLS_TIMEOUT`); the socket is then closed,
   * because the message was cut. 0 (default) waits for ever. Equal to `SO_SNDTIMEO`.
   */
  get send_timeout(): number {
    return this.#sendTimeout;
  }

  set send_timeout(ms: number) {
    this.#sendTimeout = checkTimeout(ms, 'send_timeout');
  }

  /**
   * Milliseconds a `receive`/`read`/`accept` waits before it fails with a
   * TimeoutError (code `ERR_TLS_TIMEOUT`); the socket stays usable and bytes
   * that arrived stay buffered for the next read. 0 (default) waits for ever.
   * Equal to `SO_RCVTIMEO`.
   */
  get receive_timeout(): number {
    return this.#receiveTimeout;
  }

  set receive_timeout(ms: number) {
    this.#receiveTimeout = checkTimeout(ms, 'receive_timeout');
  }

  /**
   * Connects to `host` on `port`.
   * @param host Host name or address; `null`/`undefined` uses `this.host`.
   * @param timeout Milliseconds the connection may take (default 300 000; 0 for no limit).
   * @returns true once connected.
   * @throws SocketError (`syscallCode` ECONNREFUSED…) or TimeoutError; the socket is then closed.
   * @throws StateError when already connected, bound or listening.
   */
  async connect(host?: string | null, port?: number, timeout: number = 300_000): Promise<boolean> {
    this.#checkOpen();
    if (this.#net) throw new StateError('socket is already connected');
    if (this.#isListening) throw new StateError('a listening socket cannot connect');
    const target = host ?? this.#host;
    checkHost(target);
    checkPort(port);
    const limit = checkTimeout(timeout, 'timeout');
    const local = this.#isBound && this.#server ? (this.#server.address() as net.AddressInfo) : undefined;
    if (local) await this.#closeServer();
    const sock = createPausedSocket((n, buf) => this.#onChunk(n, buf));
    this.#attach(sock);
    this.#isClient = true;
    this.#host = target;
    this.#port = port;
    const connected = new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: TlsError) => {
        sock.off('connect', onConnect);
        sock.off('error', onError);
        if (timer) clearTimeout(timer);
        if (err) {
          sock.destroy();
          reject(err);
        } else resolve();
      };
      const onConnect = () => done();
      const onError = (err: NodeJS.ErrnoException) => done(socketError(err));
      sock.once('connect', onConnect);
      sock.once('error', onError);
      if (limit > 0)
        timer = setTimeout(() => done(new TimeoutError(`connect to ${target}:${port} timed out after ${limit} ms`)), limit);
      sock.connect({
        host: target,
        port,
        family: this.#family === AF_INET6 ? 6 : 4,
        ...(local ? { localAddress: local.address, localPort: local.port } : {}),
      });
    });
    try {
      await connected;
    } catch (err) {
      // A socket whose connect failed is closed (as the OS leaves it unusable).
      this.close();
      throw err;
    }
    this.#connected = true;
    return true;
  }

  /**
   * Binds the socket to `port` on `host`. Port 0 picks a free port; `port`
   * then holds it. node:net binds and listens in one step, so the OS accepts
   * connections from here on; `accept()` hands them out once `listen()` was called.
   * @param host Host name or address; `null`/`undefined` uses `this.host` (default `localhost`).
   * @returns true once bound.
   * @throws SocketError (`syscallCode` EADDRINUSE…) when the address cannot be bound.
   */
  async bind(port: number, host?: string | null): Promise<boolean> {
    this.#checkOpen();
    if (this.#isBound) throw new StateError('socket is already bound');
    if (this.#net) throw new StateError('a connected socket cannot be bound');
    checkPort(port);
    const name = host ?? this.#host;
    checkHost(name);
    const { address } = await lookup(name, { family: this.#family === AF_INET6 ? 6 : 4 }).catch((err: NodeJS.ErrnoException) => {
      throw socketError(err);
    });
    this.#checkOpen();
    await this.#listenOn(address, port, SOMAXCONN);
    this.#host = name;
    this.#isBound = true;
    return true;
  }

  /**
   * Starts accepting connections, with a queue of `queue_length` pending
   * connections (-1, the default: `SOMAXCONN`, capped by the kernel).
   * @returns true
   * @throws StateError when the socket is not bound.
   */
  async listen(queue_length: number = -1): Promise<boolean> {
    this.#checkOpen();
    if (!this.#isBound || !this.#server) throw new StateError('bind() the socket before listen()');
    if (typeof queue_length !== 'number' || !Number.isInteger(queue_length) || queue_length < -1)
      throw new InvalidArgumentError('Expected "queue_length" to be -1 or a non-negative integer');
    const backlog = queue_length === -1 ? SOMAXCONN : queue_length;
    if (backlog !== this.#backlog) {
      // node:net fixes the backlog when it binds: bind again on the same address with the new one.
      const { address, port } = this.#server.address() as net.AddressInfo;
      await this.#closeServer();
      await this.#listenOn(address, port, backlog);
    }
    this.#isListening = true;
    return true;
  }

  /**
   * Waits for a connection and returns a new connected Socket for it, with
   * this socket's timeouts, blocking mode and options. In non-blocking mode
   * it rejects at once (SocketError, `syscallCode` EAGAIN) when no connection is pending.
   * @throws TimeoutError after `receive_timeout`; StateError when not listening.
   */
  async accept(): Promise<Socket> {
    this.#checkOpen();
    if (!this.#isListening) throw new StateError('listen() before accept()');
    const accepted = await this.#nextConnection();
    const peer = new Socket(this.#family);
    peer.#adopt(accepted, this);
    return peer;
  }

  /**
   * Sends `message`: a string (as UTF-8), bytes, or an open file
   * (`fs.promises.FileHandle`) streamed from its current position in chunks,
   * each waiting for the socket to drain when its buffer is full.
   * @param flags Kept for compatibility; ignored.
   * @returns The number of bytes sent.
   * @throws TimeoutError after `send_timeout` (the socket is then closed); StateError when not connected.
   */
  async send(message: SendMessage, flags: number = 0): Promise<number> {
    checkMessage(message);
    checkFlags(flags);
    const sock = this.#writable();
    const whenDrained = () => this.#drain.wait(sock, () => new SocketError('socket closed while sending'));
    return sendMessage(message, { write: (c) => sock.write(c), copies: false, whenDrained }, this.#sendTimeout, () => this.close());
  }

  /**
   * Receives up to `length` bytes as UTF-8 text: -1 (default) returns what is
   * available once something is (never splitting a UTF-8 character), a
   * length waits for that many bytes or the end of the stream. Resolves `''`
   * once the peer closed and everything was read. In non-blocking mode it
   * answers at once with what the kernel and the buffer hold (possibly `''`).
   * @param flags Kept for compatibility; ignored.
   * @throws TimeoutError after `receive_timeout` (the socket stays usable).
   */
  async receive(length: number = -1, flags: number = 0): Promise<string> {
    return (await this.#receive(length, flags, true)).toString('utf8');
  }

  /** `receive()` as bytes: the Buffer path, bit-exact for binary data. Extension. */
  receive_bytes(length: number = -1, flags: number = 0): Promise<Buffer> {
    return this.#receive(length, flags, false);
  }

  /**
   * Reads `length` bytes (default 1024) as UTF-8 text, waiting, whatever
   * the blocking mode, until that many arrived or the stream ended (-1:
   * until the end of the stream). Resolves `''` at the end of the stream.
   * @throws TimeoutError after `receive_timeout` (the socket stays usable).
   */
  async read(length: number = 1024): Promise<string> {
    return (await this.#read(length, true)).toString('utf8');
  }

  /** `read()` as bytes: the Buffer path, bit-exact for binary data. Extension. */
  read_bytes(length: number = 1024): Promise<Buffer> {
    return this.#read(length, false);
  }

  /** Extension: bytes received and buffered, ready for a read without waiting (Python's `pending()`). */
  pending(): number {
    return this.#buffer.length;
  }

  /**
   * Closes the socket: queued data is still sent, then the descriptor is
   * released. Waiting reads and accepts reject with a ClosedError.
   * @returns true, or false when it was already closed.
   */
  close(): boolean {
    if (this.#userClosed) return false;
    this.#userClosed = true;
    const closed = new ClosedError('socket is closed');
    this.#buffer.abort(closed);
    for (const w of this.#acceptWaiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(closed);
    }
    for (const p of this.#pending.splice(0)) p.destroy();
    this.#server?.close();
    const sock = this.#net;
    if (sock && !sock.destroyed) {
      sock.destroySoon();
      setTimeout(() => sock.destroy(), CLOSE_FLUSH_TIMEOUT).unref();
    }
    return true;
  }

  /**
   * Shuts down part of the connection: `SHUT_RD` (no more reads: reads
   * resolve `''`), `SHUT_WR` (sends FIN after queued data; resolves once
   * it is sent), or `SHUT_RDWR` (both, the default).
   * @returns true
   */
  async shutdown(how: number = SHUT_RDWR): Promise<boolean> {
    this.#checkOpen();
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR)
      throw new InvalidArgumentError('Expected "how" to be SHUT_RD, SHUT_WR or SHUT_RDWR');
    const sock = this.#net;
    if (!sock || !this.#connected) throw new StateError('socket is not connected');
    this.#isShutdown = true;
    this.#shutdownReason = how;
    if (how !== SHUT_WR) {
      this.#readShut = true;
      this.#buffer.end();
    }
    if (how !== SHUT_RD && !sock.writableEnded) {
      await new Promise<void>((resolve) => {
        sock.end(() => resolve());
        sock.once('close', () => resolve());
      });
    }
    return true;
  }

  /**
   * Sets a socket option: `SO_KEEPALIVE`, `TCP_NODELAY`, `SO_REUSEADDR`
   * (booleans), `SO_SNDTIMEO`, `SO_RCVTIMEO` (milliseconds), `SO_SNDBUF`,
   * `SO_RCVBUF` (bytes, set with setsockopt; need a descriptor: connect or bind first).
   * Options set before the socket has a descriptor apply once it has one.
   * @returns true
   * @throws InvalidArgumentError for another option or a bad value.
   */
  set_option(option: number, value: unknown): boolean {
    this.#checkOpen();
    const flag = () => {
      if (typeof value !== 'boolean' && value !== 0 && value !== 1)
        throw new InvalidArgumentError('Expected "value" to be a boolean');
      return Boolean(value);
    };
    switch (option) {
      case SO_KEEPALIVE:
        this.#keepAlive = flag();
        this.#net?.setKeepAlive(this.#keepAlive);
        return true;
      case TCP_NODELAY:
        this.#noDelay = flag();
        this.#net?.setNoDelay(this.#noDelay);
        return true;
      case SO_REUSEADDR:
        // libuv sets SO_REUSEADDR on every TCP socket it binds (Unix): it
        // cannot be turned off, so saying it was would be a lie.
        if (!flag()) throw new InvalidArgumentError('SO_REUSEADDR cannot be turned off: libuv sets it on every bind');
        this.#reuseAddr = true;
        return true;
      case SO_SNDTIMEO:
        this.send_timeout = value as number;
        return true;
      case SO_RCVTIMEO:
        this.receive_timeout = value as number;
        return true;
      case SO_SNDBUF:
      case SO_RCVBUF: {
        if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
          throw new InvalidArgumentError('Expected "value" to be a positive integer number of bytes');
        nativeSockopt().set(this.#descriptor(), option, value);
        return true;
      }
      default:
        throw new InvalidArgumentError(`Unsupported socket option ${String(option)}: use an SO_ constant or TCP_NODELAY`);
    }
  }

  /**
   * Gets a socket option. Once the socket has a descriptor the value is the
   * kernel's (getsockopt): `SO_SNDBUF`/`SO_RCVBUF` as Linux reports them
   * (twice what was set), the flags as they really are (libuv sets
   * `SO_REUSEADDR` on every bind). Before that, what `set_option` stored.
   * @returns A boolean for flags, a number for timeouts and sizes.
   */
  get_option(option: number): boolean | number {
    this.#checkOpen();
    switch (option) {
      case SO_KEEPALIVE:
        return this.#osFlag(option) ?? this.#keepAlive;
      case TCP_NODELAY:
        return this.#osFlag(option) ?? this.#noDelay;
      case SO_REUSEADDR:
        return this.#osFlag(option) ?? this.#reuseAddr;
      case SO_SNDTIMEO:
        return this.#sendTimeout;
      case SO_RCVTIMEO:
        return this.#receiveTimeout;
      case SO_SNDBUF:
      case SO_RCVBUF:
        return nativeSockopt().get(this.#descriptor(), option);
      default:
        throw new InvalidArgumentError(`Unsupported socket option ${String(option)}: use an SO_ constant or TCP_NODELAY`);
    }
  }

  /**
   * `true` for blocking mode (default), `false` for non-blocking: then
   * `receive` answers at once with what is there and `accept` fails with
   * EAGAIN when no connection is pending. Either way no call blocks Node's
   * event loop: "blocking" calls return Promises that wait.
   */
  set_blocking(mode: boolean): void {
    this.#checkOpen();
    if (typeof mode !== 'boolean') throw new InvalidArgumentError('Expected "mode" to be a boolean');
    this.#blocking = mode;
  }

  /**
   * The local address, port and family of the socket (`getsockname`), or
   * an empty object when it has none (not bound or connected, or closed).
   */
  info(): SocketInfo | Record<string, never> {
    const a = (this.#server ?? this.#net)?.address() as net.AddressInfo | string | Record<string, never> | null | undefined;
    if (!a || typeof a === 'string' || typeof a.port !== 'number') return {};
    return { address: a.address, port: a.port, family: a.family === 'IPv6' ? AF_INET6 : AF_INET };
  }

  toString(): string {
    return `<Socket closed: ${this.is_closed}, listening: ${this.is_listening}, connected: ${this.is_connected}, bound: ${this.is_bound}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  /** @internal Gives the transport to a TLSSocket: from here its bytes go to `sink`. */
  [kAttach](sink: ChunkCallback): AttachedTransport {
    this.#checkOpen();
    const sock = this.#net;
    if (!sock || !this.#connected) throw new StateError('socket is not connected');
    if (this.#sink) throw new StateError('socket is already used by a TLSSocket');
    this.#sink = sink;
    const buffered = this.#buffer.takeNow(-1, false);
    return { net: sock, buffered };
  }

  // -------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#userClosed) throw new ClosedError('socket is closed');
  }

  /** A flag as the kernel has it, when there is a descriptor to ask (undefined otherwise). */
  #osFlag(option: number): boolean | undefined {
    const fd = this.id;
    if (fd < 0 || !hasNativeSockopt()) return undefined;
    return nativeSockopt().get(fd, option) !== 0;
  }

  #descriptor(): number {
    const fd = this.id;
    if (fd < 0) throw new StateError('socket has no descriptor yet: bind or connect it first');
    return fd;
  }

  #writable(): net.Socket {
    this.#checkOpen();
    if (this.#sink) throw new StateError('socket is used by a TLSSocket: send through it');
    const sock = this.#net;
    if (!sock || !this.#connected || sock.destroyed) throw new StateError('socket is not connected');
    if (sock.writableEnded) throw new StateError('socket was shut down for writing');
    return sock;
  }

  #readRequest(length: number, flags: unknown): number {
    this.#checkOpen();
    checkFlags(flags);
    const n = checkLength(length);
    if (this.#sink) throw new StateError('socket is used by a TLSSocket: read through it');
    if (!this.#net) throw new StateError('socket is not connected');
    return n;
  }

  async #receive(length: number, flags: unknown, text: boolean): Promise<Buffer> {
    const n = this.#readRequest(length, flags);
    if (n === 0 || this.#readShut) return Buffer.alloc(0);
    if (!this.#blocking) {
      if (this.#buffer.length === 0 && !this.#buffer.ended) await this.#pollOnce();
      return this.#buffer.takeNow(n, text);
    }
    return this.#buffer.take({ min: n === -1 ? 1 : n, max: n, text, timeout: this.#receiveTimeout });
  }

  async #read(length: number, text: boolean): Promise<Buffer> {
    const n = this.#readRequest(length, 0);
    if (n === 0 || this.#readShut) return Buffer.alloc(0);
    return this.#buffer.take({ min: n === -1 ? Infinity : n, max: n, text, timeout: this.#receiveTimeout });
  }

  /** Non-blocking receive: read the descriptor for one turn of the loop (one poll phase), then stop. */
  async #pollOnce(): Promise<void> {
    const sock = this.#net!;
    startReading(sock);
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => setImmediate(r));
    this.#updateReading();
  }

  /** Read the descriptor only while a read waits (see `id`). */
  #updateReading(): void {
    const sock = this.#net;
    if (!sock || this.#sink) return;
    if (this.#buffer.waiting && !this.#buffer.ended && !this.#readShut) startReading(sock);
    else stopReading(sock);
  }

  #onChunk(n: number, buf: Buffer): boolean {
    if (this.#sink) return this.#sink(n, buf);
    if (this.#readShut) return false;
    // The read buffer is shared by every socket: keep a copy.
    this.#buffer.push(Buffer.from(buf.subarray(0, n)));
    return this.#buffer.waiting;
  }

  #attach(sock: net.Socket): void {
    this.#net = sock;
    sock.on('end', () => {
      if (!this.#sink) this.#buffer.end();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const error = socketError(err);
      this.#drain.fail(error);
      if (!this.#sink) this.#buffer.end(error);
    });
    sock.on('drain', () => this.#drain.drained());
    sock.on('close', () => {
      this.#drain.fail(new SocketError('socket closed while sending'));
      this.#transportClosed = true;
      this.#connected = false;
      this.#buffer.end();
    });
    if (this.#keepAlive) sock.setKeepAlive(true);
    if (this.#noDelay) sock.setNoDelay(true);
  }

  #adopt(accepted: net.Socket, server: Socket): void {
    this.#host = accepted.remoteAddress ?? server.#host;
    this.#port = accepted.remotePort ?? 0;
    this.#blocking = server.#blocking;
    this.#sendTimeout = server.#sendTimeout;
    this.#receiveTimeout = server.#receiveTimeout;
    this.#keepAlive = server.#keepAlive;
    this.#noDelay = server.#noDelay;
    const sock = adoptAcceptedSocket(accepted, (n, buf) => this.#onChunk(n, buf));
    this.#attach(sock);
    this.#connected = !sock.destroyed;
  }

  async #listenOn(address: string, port: number, backlog: number): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true });
    server.on('connection', (s) => this.#onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(socketError(err)));
      server.listen({ host: address, port, backlog }, () => resolve());
    });
    // Errors after listening (EMFILE on accept) must not crash the process.
    server.on('error', () => {});
    this.#server = server;
    this.#backlog = backlog;
    this.#port = (server.address() as net.AddressInfo).port;
  }

  #closeServer(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    // The callback waits for every connection of the server (accepted ones
    // stay counted until they close, see net-handle.ts), but the listening
    // descriptor is closed at once: the address is free for the next bind.
    server.close();
    return new Promise<void>((resolve) => setImmediate(resolve));
  }

  #onConnection(s: net.Socket): void {
    // Errors before accept() (a reset) would otherwise be unhandled.
    s.on('error', () => {});
    const w = this.#acceptWaiters.shift();
    if (w) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(s);
    } else if (this.#pending.length < kMaxPendingConnections) this.#pending.push(s);
    else s.destroy();
  }

  #nextConnection(): Promise<net.Socket> {
    let ready = this.#pending.shift();
    // A connection reset while it waited in the queue is gone: skip it.
    while (ready && ready.destroyed) ready = this.#pending.shift();
    if (ready) return Promise.resolve(ready);
    if (!this.#blocking) return Promise.reject(new SocketError('no pending connection', { syscallCode: 'EAGAIN' }));
    return new Promise<net.Socket>((resolve, reject) => {
      const w: AcceptWaiter = { resolve, reject, timer: undefined };
      if (this.#receiveTimeout > 0)
        w.timer = setTimeout(() => {
          const i = this.#acceptWaiters.indexOf(w);
          if (i >= 0) this.#acceptWaiters.splice(i, 1);
          reject(new TimeoutError(`no connection within ${this.#receiveTimeout} ms`));
        }, this.#receiveTimeout);
      this.#acceptWaiters.push(w);
    });
  }
}
