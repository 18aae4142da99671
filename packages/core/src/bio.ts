// The documented BIO family: BIO(method) over OpenSSL's own BIO_s_connect,
// BIO_s_accept and BIO_f_ssl, and the SSLBIO / ConnectBIO / AcceptedBIO
// specialisations. Every BIO runs non-blocking; an I/O call OpenSSL answers
// with "retry" waits for the descriptor on Node's loop and tries again.
import type { NativeBio } from '@rxtls/native';
import { inspect } from 'node:util';

import { BIO_CLOSE, BIO_NOCLOSE, BIO_f_ssl, BIO_s_accept, BIO_s_connect } from './constants.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from './engine.js';
import { ClosedError, InvalidArgumentError, StateError } from './errors.js';
import { binding } from './native.js';
import { Pointer } from './pointer.js';
import { SSL, Utf8Reads, checkWaitTimeout, readLength, retry, toBytes, type WaitLimit } from './ssl.js';
import { kNative } from './internal.js';

const DEFAULT_BIO_READ = 1024;

// The JS object of each native BIO, so pop() gives back the object a BIO
// was pushed as (a ConnectBIO stays a ConnectBIO).
const wrappers = new WeakMap<NativeBio, BIO>();
// Set only while wrap() builds a BIO around a native one OpenSSL made.
const kAdopt = new Pointer('BIO_METHOD', 0n);
let adopting: NativeBio | undefined;

function wrap(native: NativeBio): BIO {
  const known = wrappers.get(native);
  if (known) return known;
  adopting = native;
  try {
    return new BIO(kAdopt);
  } finally {
    adopting = undefined;
  }
}

function portString(port: unknown): string {
  if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new InvalidArgumentError('Expected "port" to be an integer from 0 to 65535 or a service name');
    return String(port);
  }
  if (typeof port === 'string' && port.length > 0) return port;
  throw new InvalidArgumentError('Expected "port" to be an integer from 0 to 65535 or a service name');
}

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`Expected "${name}" to be a string`);
  return value;
}

function checkCloseOption(option: unknown, name: string): boolean {
  if (option !== BIO_CLOSE && option !== BIO_NOCLOSE)
    throw new InvalidArgumentError(`Expected "${name}" to be BIO_CLOSE or BIO_NOCLOSE`);
  return option === BIO_CLOSE;
}

/**
 * SSL Binary Input/Output: one OpenSSL BIO, made with `BIO_s_connect`,
 * `BIO_s_accept` or `BIO_f_ssl`.
 *
 * **Waiting.** Every BIO is non-blocking underneath: when OpenSSL answers
 * *retry*, `do_connect`, `do_accept`, `read` and `write` wait for the
 * descriptor on Node's loop (libuv `uv_poll_t`) and try again; the loop
 * never blocks. `should_retry()` tells whether the last attempt was answered
 * with retry (true while such a call waits).
 *
 * **set_non_blocking(false)** keeps the awaitable form (a blocking call
 * would freeze every other connection of the process). What changes is how
 * much one `write` does: non-blocking (the default) resolves after the first
 * successful write, with the bytes OpenSSL took (for an SSL BIO, at most one
 * TLS record, 16384 bytes); blocking resolves only when all of `data` is
 * written, as a blocking `BIO_write` returns. `read` is the same in both:
 * it waits for at least one byte.
 *
 * **Chains** follow OpenSSL: `a.push(b)` appends `b` (and its chain) at the
 * end of `a`'s chain and returns `a`; `ssl_bio.push(connect_bio)` is an SSL
 * client over a connect BIO, as `BIO_new_ssl_connect` builds. `a.pop()` takes
 * `a` out of its chain and returns the BIO that followed it. On an accept
 * BIO, `pop()` returns the accepted connection as a `BIO`.
 *
 * **Host check.** An SSL BIO over a connect BIO sends the connect BIO's
 * host name as SNI and checks the server's certificate against it (unless
 * the SSL's context had `set_verify` called, or `ssl.set_host` was used).
 *
 * **Name lookup** of a host name happens inside OpenSSL (getaddrinfo) and
 * is synchronous: give an IP address (or `localhost`) where a slow resolver
 * could stall the loop.
 *
 * **Deadline.** `do_connect`/`do_accept` (the TCP connect and the TLS
 * handshake), and a `read`/`write` on an SSL BIO that has to finish the
 * handshake first, wait for the peer at most `timeout` ms in all
 * (extension; `DEFAULT_HANDSHAKE_TIMEOUT`, 10 s; 0: no limit; see
 * `set_timeout`), then reject with TimeoutError (code `ERR_TLS_TIMEOUT`).
 * The BIO stays as it was: call the same method again to keep waiting, or
 * `free()` it. An accept BIO's `do_accept` waits for a client as long as it
 * takes (timeout 0) unless `set_timeout` was called on it. Reads and writes
 * after the handshake wait as long as the peer takes.
 *
 * **Callbacks.** The SSL's context callbacks (SNI, keylog) run inside the
 * handshake, inside OpenSSL. `free()`/`free_all()` called from there take
 * effect when the running call returns (which then rejects with
 * ClosedError); driving or reshaping this or any other BIO or SSL from there
 * (`do_connect`, `read`, `write`, `push`, `pop`, `set_*`) is refused with
 * StateError (`ERR_TLS_STATE`).
 *
 * @example
 * const ssl = new SSL(ctx);
 * ssl.set_connect_state();
 * const sslBio = new SSLBIO();
 * sslBio.set_ssl(ssl);
 * const conn = new ConnectBIO();
 * conn.set_conn_hostname('localhost');
 * conn.set_conn_port(443);
 * sslBio.push(conn);
 * await sslBio.do_connect();
 * await sslBio.write('GET / HTTP/1.0\r\n\r\n');
 * const page = await sslBio.read();
 */
export class BIO {
  readonly #native: NativeBio;
  readonly #method: Pointer | null;
  readonly #text = new Utf8Reads();
  #blocking = false;
  #ssl: SSL | undefined;
  #timeout: number | undefined;

  /**
   * @param method `BIO_f_ssl`, `BIO_s_connect` or `BIO_s_accept`.
   * @throws InvalidArgumentError when `method` is not one of them.
   */
  constructor(method: Pointer) {
    if (method === kAdopt && adopting) {
      this.#native = adopting;
      this.#method = null;
    } else {
      if (!(method instanceof Pointer) || method.kind !== 'BIO_METHOD' || method === kAdopt)
        throw new InvalidArgumentError('Expected "method" to be a valid SSL BIO_* method (BIO_f_ssl, BIO_s_connect or BIO_s_accept)');
      this.#native = new binding.Bio(method.address);
      this.#method = method;
    }
    wrappers.set(this.#native, this);
  }

  /** The method this BIO was made with; null for a connection an accept BIO handed out. Extension. */
  get method(): Pointer | null {
    return this.#method;
  }

  /** `ssl`, `connect`, `accept`, or `socket` (an accepted connection). Extension. */
  get kind(): 'ssl' | 'connect' | 'accept' | 'socket' {
    return this.#native.kind();
  }

  /** True after `free()` (or `free_all()` on a BIO before it). Extension. */
  get is_freed(): boolean {
    return this.#native.isFreed();
  }

  /** The SSL given to `set_ssl`, if any. Extension. */
  get ssl(): SSL | undefined {
    return this.#ssl;
  }

  /** True unless `set_non_blocking(false)` was called. Extension. */
  get non_blocking(): boolean {
    return !this.#blocking;
  }

  /**
   * Milliseconds `do_connect`/`do_accept` (and the handshake inside a first
   * `read`/`write`) may wait for the peer in all; 0: no limit. Extension.
   */
  get timeout(): number {
    return this.#timeout ?? (this.#native.kind() === 'accept' ? 0 : DEFAULT_HANDSHAKE_TIMEOUT);
  }

  /**
   * Extension: sets `timeout` (see the class notes). Default
   * `DEFAULT_HANDSHAKE_TIMEOUT` (10 000), and 0 for an accept BIO; 0 waits for ever.
   * @throws ClosedError once freed; InvalidArgumentError unless `ms` is an integer from 0 to 2147483647.
   */
  set_timeout(ms: number): void {
    this.#live();
    this.#timeout = checkWaitTimeout(ms);
  }

  /** The limit of a read or write: the handshake's while an SSL BIO's handshake is not done. */
  #ioLimit(): WaitLimit | undefined {
    const ssl = this.#ssl;
    if (ssl === undefined || ssl.is_freed || ssl.info().handshakeComplete) return undefined;
    return { ms: this.timeout, what: 'TLS handshake' };
  }

  #live(): NativeBio {
    if (this.#native.isFreed()) throw new ClosedError('BIO has been freed');
    return this.#native;
  }

  /**
   * Sets the SSL this SSL BIO speaks through. It takes the SSL's role
   * (`set_connect_state`/`set_accept_state`) as it is.
   * @param option `BIO_NOCLOSE` (default): freeing the BIO leaves the SSL
   *   usable. `BIO_CLOSE`: freeing the BIO sends close_notify and frees the SSL too.
   * @throws StateError on a BIO that is not an SSL BIO, or when called twice.
   */
  set_ssl(ssl: SSL, option: number = BIO_NOCLOSE): void {
    if (!(ssl instanceof SSL)) throw new InvalidArgumentError('Expected "ssl" to be an SSL');
    const close = checkCloseOption(option, 'option');
    this.#live().setSsl(ssl[kNative], close);
    this.#ssl = ssl;
  }

  /**
   * Sets the host to connect to (a connect BIO, or the first one under this
   * BIO). `host:port` is accepted, as OpenSSL does; an IPv6 address may be
   * given bare.
   */
  set_conn_hostname(name: string): void {
    this.#live().setConnHostname(checkString(name, 'name'));
  }

  /**
   * Sets the address the accept BIO listens on (`127.0.0.1`, `::1`, `*`), or
   * `host:port`.
   */
  set_accept_name(name: string): void {
    this.#live().setAcceptName(checkString(name, 'name'));
  }

  /** Sets the IP address to connect to (instead of a host name). */
  set_conn_address(address: string): void {
    this.#live().setConnAddress(checkString(address, 'address'));
  }

  /** Sets the port to connect to: a number or a service name (`'https'`). */
  set_conn_port(port: number | string): void {
    this.#live().setConnPort(portString(port));
  }

  /** Sets the port to listen on; 0 picks a free port (see `get_accept_port`). */
  set_accept_port(port: number | string): void {
    this.#live().setAcceptPort(portString(port));
  }

  /** Sets the address family to connect with: `AF_INET`, `AF_INET6` or `AF_UNSPEC` (0, either). */
  set_conn_family(family: number): void {
    this.#live().setConnFamily(family);
  }

  /** Sets the address family to listen with: `AF_INET`, `AF_INET6` or `AF_UNSPEC` (0, either). */
  set_accept_family(family: number): void {
    this.#live().setAcceptFamily(family);
  }

  /** The host name to connect to (`''` when none was set). */
  get_conn_hostname(): string {
    return this.#live().getConnHostname();
  }

  /** The address listened on: the bound address once `do_accept` bound, else the name set. */
  get_accept_name(): string {
    return this.#live().getAcceptName();
  }

  /** The numeric address connected to once resolved, else the address set (`''` if none). */
  get_conn_address(): string {
    return this.#live().getConnAddress();
  }

  /** The port to connect to, as a string (`''` when none was set). */
  get_conn_port(): string {
    return this.#live().getConnPort();
  }

  /** The port listened on, as a string: the real port once bound (also when 0 was asked for). */
  get_accept_port(): string {
    return this.#live().getAcceptPort();
  }

  /** The family of the connected socket (`AF_INET`/`AF_INET6`), or the family asked for before. */
  get_conn_family(): number {
    return this.#live().getConnFamily();
  }

  /** The family of the listening socket, or the family asked for before it is bound. */
  get_accept_family(): number {
    return this.#live().getAcceptFamily();
  }

  /**
   * The socket descriptor of this BIO (or of the chain under it): the one
   * given to `set_fd`, else OpenSSL's own.
   * @returns the descriptor, or -1 when there is none (yet).
   */
  get_fd(): number {
    return this.#live().getFd();
  }

  /**
   * Sets the socket descriptor this BIO runs on (an accept BIO takes a
   * listening socket). The BIO uses its own duplicate, made non-blocking.
   * @param opt `BIO_NOCLOSE` (default): `fd` stays open after `free()`;
   *   `BIO_CLOSE`: `free()` closes `fd` too.
   */
  set_fd(fd: number, opt: number = BIO_NOCLOSE): void {
    const close = checkCloseOption(opt, 'opt');
    this.#live().setFd(fd, close);
  }

  /**
   * Non-blocking (`true`, default) or blocking (`false`) calls. Both forms
   * return Promises and never block the loop; see the class notes for what
   * changes (how much one `write` does).
   */
  set_non_blocking(b = true): void {
    if (typeof b !== 'boolean') throw new InvalidArgumentError('Expected "b" to be a boolean');
    this.#live();
    this.#blocking = !b;
  }

  /**
   * Appends `b` (a BIO or a chain) at the end of this BIO's chain, as
   * `BIO_push` does, and returns this BIO (the head of the chain).
   * @throws InvalidArgumentError when the push would make a cycle;
   *   StateError when `b` is already inside another chain.
   */
  push(b: BIO): BIO {
    if (!(b instanceof BIO)) throw new InvalidArgumentError('Expected "b" to be a BIO');
    this.#live().push(b.#live());
    return this;
  }

  /**
   * Takes this BIO out of its chain, as `BIO_pop` does, and returns the BIO
   * that followed it (null if none). On an accept BIO after `do_accept`
   * accepted a client, that is the new connection.
   */
  pop(): BIO | null {
    const next = this.#live().pop();
    return next ? wrap(next) : null;
  }

  /**
   * Writes `data` (a string is sent as UTF-8), waiting for the socket as needed.
   * @returns the bytes written: all of them in blocking mode; in non-blocking
   *   mode those of the first successful write (possibly fewer).
   */
  async write(data: string | Uint8Array): Promise<number> {
    const bytes = toBytes(data);
    const native = this.#live();
    if (bytes.length === 0) return 0;
    let off = 0;
    do {
      const slice = bytes.subarray(off);
      off += await retry<number>(native, () => native.write(slice), this.#ioLimit());
    } while (this.#blocking && off < bytes.length);
    return off;
  }

  /**
   * Reads what has arrived, waiting for at least one character.
   * @param length Most bytes to read (default 1024).
   * @returns UTF-8 text (a character is never split between reads); `''` at the end of input.
   * @throws TruncationError when a TLS connection ended without close_notify.
   */
  async read(length = DEFAULT_BIO_READ): Promise<string> {
    const n = readLength(length, DEFAULT_BIO_READ);
    for (;;) {
      const chunk = await this.#readChunk(n);
      if (chunk === null) return this.#text.flush();
      const text = this.#text.text(chunk);
      if (text.length > 0) return text;
    }
  }

  /**
   * Extension: like `read`, but gives the bytes exactly (binary data).
   * @returns the bytes; an empty Buffer at the end of input.
   */
  async read_bytes(length = DEFAULT_BIO_READ): Promise<Buffer> {
    const n = readLength(length, DEFAULT_BIO_READ);
    const held = this.#text.takeHeld();
    if (held.length > 0) return held;
    return (await this.#readChunk(n)) ?? Buffer.alloc(0);
  }

  async #readChunk(n: number): Promise<Buffer | null> {
    const native = this.#live();
    return retry<Buffer | null>(native, () => native.read(n), this.#ioLimit());
  }

  /** True when the last call on this BIO was answered with *retry* (it is waiting). */
  should_retry(): boolean {
    return this.#live().shouldRetry();
  }

  /**
   * Establishes the connection: a connect BIO connects; an SSL BIO (client)
   * connects what is under it and runs the TLS handshake.
   * @returns true once connected.
   * @throws SocketError (refused, unreachable), CertificateError, HandshakeError;
   *   StateError on an accept BIO or an SSL BIO whose SSL is in accept state.
   */
  async do_connect(): Promise<boolean> {
    const native = this.#live();
    const kind = native.kind();
    if (kind === 'accept') throw new StateError('do_connect() on an accept BIO: use do_accept()');
    if (kind === 'ssl' && this.#ssl && !this.#ssl.is_freed && this.#ssl.info().isServer)
      throw new StateError('do_connect() on an SSL BIO whose SSL is in accept state: use do_accept()');
    await retry<number>(native, () => native.doHandshake(), { ms: this.timeout, what: kind === 'ssl' ? 'TLS handshake' : 'connect' });
    return true;
  }

  /**
   * Accepts: on an accept BIO, the first call binds and listens, the next
   * waits for a client (then `pop()` gives the connection). On an SSL BIO
   * whose SSL is in accept state, runs the server handshake.
   * @returns true once done.
   * @throws SocketError (address in use…); StateError on a connect BIO or an
   *   SSL BIO whose SSL is in connect state.
   */
  async do_accept(): Promise<boolean> {
    const native = this.#live();
    const kind = native.kind();
    if (kind === 'connect') throw new StateError('do_accept() on a connect BIO: use do_connect()');
    if (kind === 'ssl' && this.#ssl && !this.#ssl.is_freed && this.#ssl.info().isClient)
      throw new StateError('do_accept() on an SSL BIO whose SSL is in connect state: use do_connect()');
    await retry<number>(native, () => native.doHandshake(), { ms: this.timeout, what: kind === 'ssl' ? 'TLS handshake' : 'accept' });
    return true;
  }

  /**
   * The last error number: OpenSSL's packed error code of this BIO's last
   * failed call (0 after a success). With `code`, the reason part of that
   * error number (`ERR_GET_REASON`).
   */
  error(code?: number): number {
    if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || code < 0))
      throw new InvalidArgumentError('Expected "code" to be a non-negative integer');
    return this.#live().lastError(code);
  }

  /**
   * The last error as OpenSSL's text (`error:0A000086:SSL routines::certificate
   * verify failed`), or that of `code`; `''` when there is none.
   */
  error_string(code?: number): string {
    if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || code < 0))
      throw new InvalidArgumentError('Expected "code" to be a non-negative integer');
    return this.#live().errorString(code);
  }

  /**
   * Frees this BIO: takes it out of its chain (the BIOs before and after are
   * joined, and stay usable), closes what it owns (its socket; with
   * `set_ssl(ssl, BIO_CLOSE)`, sends close_notify if the socket takes it at
   * once, without waiting, and frees the SSL; with `set_fd(fd, BIO_CLOSE)`,
   * closes `fd`). A pending call rejects with
   * ClosedError. An accepted connection not yet popped is freed with it.
   * From inside a callback OpenSSL runs, it takes effect when the running
   * call returns (see the class notes); `is_freed` is true at once.
   * @throws ClosedError when already freed.
   */
  free(): void {
    if (this.#native.isFreed()) throw new ClosedError('BIO has already been freed');
    this.#native.free();
  }

  /** Extension: frees this BIO and every BIO after it in its chain (`BIO_free_all`). */
  free_all(): void {
    if (this.#native.isFreed()) throw new ClosedError('BIO has already been freed');
    this.#native.freeAll();
  }

  /** The raw `BIO` pointer, as an opaque handle. */
  get_pointer(): Pointer {
    return new Pointer('BIO', this.#live().pointer());
  }

  [inspect.custom](): string {
    return `<${this.constructor.name} ${this.#native.kind()}${this.#native.isFreed() ? ' freed' : ''}>`;
  }
}

/** SSLBIO is a generic BIO for SSL I/O: `BIO(BIO_f_ssl)`. Give it an SSL (`set_ssl`) and push a transport under it. */
export class SSLBIO extends BIO {
  constructor() {
    super(BIO_f_ssl);
  }
}

/** ConnectBIO is a generic BIO for new connections: `BIO(BIO_s_connect)`. */
export class ConnectBIO extends BIO {
  constructor() {
    super(BIO_s_connect);
  }
}

/** AcceptedBIO is a generic BIO for accepting new connections: `BIO(BIO_s_accept)`. */
export class AcceptedBIO extends BIO {
  constructor() {
    super(BIO_s_accept);
  }
}
