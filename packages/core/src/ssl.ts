// SSL: the documented SSL class, on a socket descriptor (set_fd) or, through
// an SSLBIO, on a BIO chain. Each native call makes one non-blocking attempt;
// when OpenSSL wants to read or write, the Promise waits for the descriptor on
// Node's loop (uv_poll on a dup of the fd) and tries again. Nothing blocks.
import type { FdSslInfo, NativeFdSsl } from '@rxtls/native';
import { inspect } from 'node:util';

import { encodeAlpn } from './context-features.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from './engine.js';
import { ClosedError, InvalidArgumentError, TimeoutError } from './errors.js';
import { kNative } from './internal.js';
import { binding, type CertificateSummary } from './native.js';
import { Pointer } from './pointer.js';
import { checkTimeout } from './socket-args.js';
import { SSLContext } from './ssl-context.js';
import { utf8Boundary } from './utf8.js';

/** Largest `length` a single read accepts (16 MiB). */
const MAX_READ = 16 * 1024 * 1024;
/** What `read()` with no length (or -1) asks for: one full TLS record. */
const DEFAULT_SSL_READ = 16384;

/** @internal Something that can wait for its descriptor. */
export interface Waitable {
  wait(events: number, timeoutMs?: number): Promise<number>;
}

/** @internal How long one call's waits may take in all (`ms`, 0: no limit), and what to call it in the TimeoutError. */
export interface WaitLimit {
  ms: number;
  what: string;
}

/** @internal The timeout setters' check: whole milliseconds up to what a timer takes, 0 for none. */
export function checkWaitTimeout(ms: unknown): number {
  const v = checkTimeout(ms, 'ms');
  if (v > 0x7fffffff) throw new InvalidArgumentError('Expected "ms" to be at most 2147483647');
  return v;
}

/**
 * @internal Runs `attempt` until it gives a result: a negative number from
 * the addon means "wait for these events (-n), then try again". With a
 * `limit`, the waits together may take `limit.ms`: then TimeoutError. The
 * object is left as it was (the native wait is withdrawn), so the same call
 * may be made again.
 */
export async function retry<T>(native: Waitable, attempt: () => T | number, limit?: WaitLimit): Promise<T> {
  const end = limit !== undefined && limit.ms > 0 ? performance.now() + limit.ms : 0;
  for (;;) {
    const r = attempt();
    if (typeof r !== 'number' || r >= 0) return r as T;
    if (end === 0) {
      await native.wait(-r);
      continue;
    }
    const left = Math.ceil(end - performance.now());
    const timedOut = () => new TimeoutError(`${limit!.what} timed out after ${limit!.ms} ms`);
    if (left <= 0) throw timedOut();
    try {
      await native.wait(-r, left);
    } catch (err) {
      throw err instanceof TimeoutError ? timedOut() : err;
    }
  }
}

/** @internal Checks a read length: an integer in 1..16 MiB, or -1 for `fallback`. */
export function readLength(length: unknown, fallback: number): number {
  if (length === undefined || length === -1) return fallback;
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 1 || length > MAX_READ)
    throw new InvalidArgumentError(`Expected "length" to be -1 or an integer from 1 to ${MAX_READ}`);
  return length;
}

/** @internal Data to write, as bytes (strings are UTF-8). */
export function toBytes(data: unknown): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new InvalidArgumentError('Expected "data" to be a string, Buffer or Uint8Array');
}

/**
 * @internal Turns byte chunks into UTF-8 text without splitting a character
 * across reads: an incomplete sequence at the end of a chunk waits for the
 * next one. Byte reads take those held bytes first, so mixing text and byte
 * reads loses nothing.
 */
export class Utf8Reads {
  #held: Buffer = Buffer.alloc(0);

  /** Bytes held back from an earlier text read, now given to a byte read. */
  takeHeld(): Buffer {
    const h = this.#held;
    this.#held = Buffer.alloc(0);
    return h;
  }

  /** The text of `chunk` (after the held bytes) up to its last complete character. */
  text(chunk: Buffer): string {
    const all = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    const cut = utf8Boundary(all);
    this.#held = Buffer.from(all.subarray(cut));
    return all.toString('utf8', 0, cut);
  }

  /** At the end of input: whatever is held, decoded as is. */
  flush(): string {
    return this.takeHeld().toString('utf8');
  }
}


/**
 * The documented SSL class: one TLS connection on a socket descriptor.
 *
 * `set_fd(fd)` takes a real connected socket descriptor (a `Socket`'s `id`,
 * or any TCP socket's fd). The SSL works on its own duplicate of it and
 * makes the socket non-blocking; when OpenSSL wants to read or write, the
 * Promise of `connect`/`accept`/`read`/`write`/`shutdown` waits for the
 * descriptor on Node's loop and tries again — the loop never blocks.
 *
 * **Nobody else may read the descriptor**, or OpenSSL loses the bytes they
 * take. A `Socket` of this package (also one from `Socket.accept()`) never
 * reads unless its own `receive`/`read` waits: give its `id`. A `net.Socket`
 * reads as soon as it is connected, and `pause()` does not stop that (Node
 * keeps reading into the stream's buffer): make a server's sockets with
 * `net.createServer({ pauseOnConnect: true })`, and call a client's
 * `pause()` before `connect()`.
 *
 * **Deadline.** `connect`, `accept`, `shutdown`, and a `read`/`write` that
 * has to finish the handshake first, wait for the peer at most `timeout` ms
 * in all (extension; `DEFAULT_HANDSHAKE_TIMEOUT`, 10 s, unless
 * `set_timeout` changed it; 0: no limit), then reject with TimeoutError
 * (code `ERR_TLS_TIMEOUT`). The SSL stays as it was: call the same method
 * again to keep waiting, or `free()` it. Reads and writes after the
 * handshake wait as long as the peer takes, as a blocking socket does.
 *
 * **Callbacks.** The context's SNI and keylog callbacks run inside
 * `accept`/`connect` (inside OpenSSL). `free()` called from there takes
 * effect when that call returns, which then rejects with ClosedError
 * (`ERR_TLS_CLOSED`); driving this or any other SSL or BIO from there
 * (`accept`, `read`, `write`, `shutdown`, `set_fd`, …) is refused with
 * StateError (`ERR_TLS_STATE`).
 * A callback that throws fails the call that ran it with HandshakeError
 * (ProtocolError after the handshake) whose `cause` is the thrown value; the
 * SSL then refuses `accept`/`connect`/`read`/`write` (StateError) and
 * `shutdown` sends nothing: `free()` it.
 *
 * A client verifies the server's certificate (against the context's trust)
 * and that it names the host: the name given to `set_host` (extension), or
 * else the peer's IP address. A context on which `set_verify` was called
 * keeps exactly that mode.
 *
 * Text and bytes: `read` gives UTF-8 text and never splits a character
 * between two reads; `read_bytes` (extension) gives the bytes exactly, for
 * binary data. `write` takes a string (sent as UTF-8) or bytes.
 *
 * @example
 * const ssl = new SSL(ctx);
 * ssl.set_fd(sock.id);
 * ssl.set_connect_state();
 * await ssl.connect();
 * await ssl.write('GET / HTTP/1.0\r\n\r\n');
 * const page = await ssl.read();
 */
export class SSL {
  #native: NativeFdSsl;
  readonly #context: SSLContext;
  readonly #text = new Utf8Reads();
  #timeout = DEFAULT_HANDSHAKE_TIMEOUT;
  #handshaken = false;

  /**
   * @param context The context the connection uses (certificates, trust, verify mode).
   * @throws InvalidArgumentError when `context` is not an SSLContext; ClosedError when it was freed.
   */
  constructor(context: SSLContext) {
    if (!(context instanceof SSLContext)) throw new InvalidArgumentError('Expected "context" to be an SSLContext');
    this.#context = context;
    this.#native = new binding.FdSsl(context[kNative]);
  }

  /** The SSLContext this SSL was made from. Extension. */
  get context(): SSLContext {
    return this.#context;
  }

  /** True after `free()` (or after a BIO that owned it with BIO_CLOSE was freed). Extension. */
  get is_freed(): boolean {
    return this.#native.isFreed();
  }

  /** Milliseconds the handshake (and `shutdown`) may wait for the peer in all; 0: no limit. Extension. */
  get timeout(): number {
    return this.#timeout;
  }

  /**
   * Extension: sets `timeout` (see the class notes). Default
   * `DEFAULT_HANDSHAKE_TIMEOUT` (10 000); 0 waits for ever.
   * @throws ClosedError once freed; InvalidArgumentError unless `ms` is an integer from 0 to 2147483647.
   */
  set_timeout(ms: number): void {
    this[kNative];
    this.#timeout = checkWaitTimeout(ms);
  }

  /** The limit for a call that may have to (finish the) handshake. */
  #handshakeLimit(native: NativeFdSsl, what: string): WaitLimit | undefined {
    if (!this.#handshaken) this.#handshaken = native.info().handshakeComplete;
    return this.#handshaken ? undefined : { ms: this.#timeout, what };
  }

  /** @internal The native SSL (for BIO.set_ssl); throws once freed. */
  get [kNative](): NativeFdSsl {
    if (this.#native.isFreed()) throw new ClosedError('SSL has been freed');
    return this.#native;
  }

  /** Puts this SSL in client mode (it will send the ClientHello). */
  set_connect_state(): void {
    this.#native.setConnectState();
  }

  /** Puts this SSL in server mode (it will wait for a ClientHello). */
  set_accept_state(): void {
    this.#native.setAcceptState();
  }

  /**
   * The socket descriptor: the one given to `set_fd`, else the one of the
   * BIO the SSL runs on.
   * @returns the descriptor, or -1 when there is none.
   */
  get_fd(): number {
    return this.#native.getFd();
  }

  /**
   * Runs this SSL on the connected socket `fd`. The SSL uses its own
   * duplicate of the descriptor (closed when the SSL is freed): the caller's
   * descriptor stays open and theirs. The socket becomes non-blocking.
   * @throws InvalidArgumentError when `fd` is not an open socket descriptor;
   *   StateError after the handshake started.
   */
  set_fd(fd: number): void {
    this.#native.setFd(fd);
  }

  /**
   * Extension. Client: the host name (sent as SNI) or IP address the
   * server's certificate must match. Without it a client checks the
   * certificate against the peer's IP address (or, under an SSLBIO, the
   * connect BIO's host name).
   */
  set_host(host: string): void {
    this.#native.setHost(host);
  }

  /**
   * Connects to the TLS server: the client handshake (in connect state, set
   * now if no state was set).
   * @returns true once the handshake is done.
   * @throws CertificateError (with `verifyCode`, `verifyMessage`) when the
   *   server's certificate does not verify; HandshakeError, SocketError otherwise;
   *   StateError before set_fd or on an SSL in accept state.
   */
  async connect(): Promise<boolean> {
    const native = this[kNative];
    await retry<number>(native, () => native.connect(), { ms: this.#timeout, what: 'TLS handshake' });
    this.#handshaken = true;
    return true;
  }

  /**
   * Accepts a TLS client: the server handshake (in accept state, set now if
   * no state was set). The context needs a certificate (`load_certs`).
   * @returns true once the handshake is done.
   */
  async accept(): Promise<boolean> {
    const native = this[kNative];
    await retry<number>(native, () => native.accept(), { ms: this.#timeout, what: 'TLS handshake' });
    this.#handshaken = true;
    return true;
  }

  /**
   * Writes all of `data` (a string is sent as UTF-8), waiting for the socket
   * as needed. Before the handshake, it runs the handshake first (OpenSSL's
   * SSL_write does).
   * @returns the total number of bytes written.
   */
  async write(data: string | Uint8Array): Promise<number> {
    const bytes = toBytes(data);
    const native = this[kNative];
    let off = 0;
    while (off < bytes.length) {
      // After a retry OpenSSL wants the same bytes again: the same slice is given.
      const slice = bytes.subarray(off);
      off += await retry<number>(native, () => native.write(slice), this.#handshakeLimit(native, 'TLS handshake'));
    }
    return bytes.length;
  }

  /**
   * Reads what has arrived, waiting for at least one character.
   * @param length Most bytes to read; -1 (default) reads up to one TLS record (16384).
   * @returns UTF-8 text; `''` once the peer closed the connection with close_notify.
   * @throws TruncationError when the connection ended without close_notify.
   */
  async read(length = -1): Promise<string> {
    const n = readLength(length, DEFAULT_SSL_READ);
    for (;;) {
      const chunk = await this.#readChunk(n);
      if (chunk === null) return this.#text.flush();
      const text = this.#text.text(chunk);
      // Only part of a character arrived: wait for the rest.
      if (text.length > 0) return text;
    }
  }

  /**
   * Extension: like `read`, but gives the bytes exactly (binary data).
   * @returns the bytes; an empty Buffer once the peer closed with close_notify.
   */
  async read_bytes(length = -1): Promise<Buffer> {
    const n = readLength(length, DEFAULT_SSL_READ);
    const held = this.#text.takeHeld();
    if (held.length > 0) return held;
    return (await this.#readChunk(n)) ?? Buffer.alloc(0);
  }

  async #readChunk(n: number): Promise<Buffer | null> {
    const native = this[kNative];
    return retry<Buffer | null>(native, () => native.read(n), this.#handshakeLimit(native, 'TLS handshake'));
  }

  /**
   * The last SSL error number: `SSL_get_error` of the last call (SSL_ERROR_NONE = 0,
   * SSL_ERROR_WANT_READ = 2, SSL_ERROR_ZERO_RETURN = 6, …).
   * @param code The return value of an SSL call, to classify as `SSL_get_error(ssl, code)` does.
   */
  error(code?: number): number {
    if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code)))
      throw new InvalidArgumentError('Expected "code" to be an integer');
    return this.#native.error(code);
  }

  /**
   * Shuts the TLS connection down: sends close_notify (waiting for the
   * socket if needed). It does not wait for the peer's close_notify; a later
   * `read()` gives `''` when it arrives. Before a handshake there is
   * nothing to close.
   * @returns true once close_notify is sent.
   */
  async shutdown(): Promise<boolean> {
    const native = this[kNative];
    await retry<number>(native, () => native.shutdown(), { ms: this.#timeout, what: 'TLS shutdown' });
    return true;
  }

  /**
   * Frees the SSL. Its duplicate of the descriptor is closed (the caller's
   * descriptor stays open); a pending wait rejects with ClosedError. Called
   * from inside a callback OpenSSL runs (SNI, keylog), it takes effect when
   * the running call returns (that call then rejects with ClosedError);
   * `is_freed` is true at once.
   * @throws ClosedError when already freed.
   */
  free(): void {
    this.#native.free();
  }

  /** The raw `SSL` pointer, as an opaque handle. */
  get_pointer(): Pointer {
    return new Pointer('SSL', this[kNative].pointer());
  }

  /** Extension: protocol, cipher, key exchange group, ALPN, verify result, resumption, role, shutdown state. */
  info(): FdSslInfo {
    return this[kNative].info();
  }

  // --- TLS feature extensions (per connection; the context holds the rest) ---

  /**
   * Extension (client): the session to resume on a later connection, as
   * bytes (keep them secret: they hold the resumption secret), or null while
   * none is resumable. In TLS 1.3 the server's ticket arrives after the
   * handshake: it is there once a `read` processed it.
   */
  get_session(): Buffer | null {
    return this[kNative].getSession();
  }

  /**
   * Extension (client, before `connect`): offers `session` (from
   * `get_session()` of an earlier connection to the same server) for
   * resumption; `session_reused()` tells whether the server took it.
   * @throws InvalidArgumentError when it does not decode; StateError in
   *   accept state or after the handshake started.
   */
  set_session(session: Uint8Array): void {
    this[kNative].setSession(session);
  }

  /** Extension: true when the handshake resumed a session instead of a full one. */
  session_reused(): boolean {
    return this[kNative].sessionReused();
  }

  /**
   * Extension (client, before `connect`): ALPN protocols to offer, most
   * preferred first (`['h2', 'http/1.1']`), over the context's list; `null`
   * or `[]` offers none. A server picks from its context's list
   * (`SSLContext.set_alpn_protocols`).
   * @throws StateError in accept state or after the handshake started.
   */
  set_alpn_protocols(protocols: ReadonlyArray<string> | null): void {
    const wire = protocols === null || (Array.isArray(protocols) && protocols.length === 0) ? Buffer.alloc(0) : encodeAlpn(protocols);
    this[kNative].setAlpnProtocols(wire);
  }

  /** Extension: the ALPN protocol both sides agreed on, or null. */
  get_alpn_protocol(): string | null {
    return this[kNative].alpnProtocol();
  }

  /** Extension: the peer's certificate (subject, issuer, SANs, validity, fingerprint, DER), or null when it sent none. */
  get_peer_certificate(): CertificateSummary | null {
    return this[kNative].peerCertificate();
  }

  [inspect.custom](): string {
    if (this.#native.isFreed()) return '<SSL freed>';
    const i = this.#native.info();
    return `<SSL fd: ${this.#native.getFd()}, ${i.handshakeComplete ? i.protocol : 'no handshake'}>`;
  }
}
