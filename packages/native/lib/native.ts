// The addon's surface, typed once. Nothing outside this package sees an
// untyped native value.
import { loadBinding } from './binding.js';

/** Bits of the number `Session.cycle`, `write` and `shutdown` return. */
export const CycleFlag = {
  /** The handshake completed during this call. */
  Secure: 1,
  /** `out[0]` holds decrypted plaintext. */
  ClearOut: 2,
  /** `out[1]` holds ciphertext to send to the peer. */
  EncOut: 4,
  /** The peer's close_notify arrived (a clean end of its data). */
  PeerClosed: 8,
  /** `out[2]` holds the fatal error; the session accepts no more input. */
  Error: 16,
  /** A new resumable session (TLS ticket) arrived: `getSession()` returns it. */
  Session: 32,
  /** A post-handshake client authentication completed (server). */
  PeerCertificate: 64,
  /**
   * Server with a session store (`setSessionStore`): the handshake is paused
   * at the ClientHello. Look up `sessionStoreRequest()`, give the result to
   * `sessionStoreAnswer()`, then `cycle()` (or `cycleAsync()`) again.
   */
  SessionLookup: 128,
} as const;

/** A new session of a server with a session store, to keep (`takeStoreSessions`). */
export interface StoreSession {
  /** The session ID (TLS 1.2), or the TLS 1.3 stateful ticket (it is the ID). */
  id: Buffer;
  /** The serialised SSL_SESSION (secret: it holds the resumption secret). */
  session: Buffer;
  /** Seconds it may be resumed for (the context's session timeout). */
  ttl: number;
}

/** The array a session writes its results into: plaintext, ciphertext, error. */
export type SessionOut = [clear: Buffer | undefined, enc: Buffer | undefined, error: Error | undefined];

/** A certificate as sessions and `parseCertificate` report it. */
export interface CertificateSummary {
  /** Subject attributes by short name (`CN`, `O`, …). */
  subject: Record<string, string>;
  issuer: Record<string, string>;
  /** RFC 2253 form, e.g. `CN=localhost`. */
  subjectName: string;
  issuerName: string;
  /** `DNS:name`, `IP:addr`, `email:…`, `URI:…`. */
  subjectAltNames: string[];
  /** ISO 8601, UTC. */
  validFrom: string;
  validTo: string;
  /** Upper-case hex. */
  serialNumber: string;
  /** SHA-256 of the DER, `AB:CD:…`. */
  fingerprint256: string;
  /** The certificate, DER encoded. */
  raw: Buffer;
}

export interface SessionInfo {
  isServer: boolean;
  handshakeComplete: boolean;
  /** `TLSv1.3`, `TLSv1.2`; null before the handshake. */
  protocol: string | null;
  /** OpenSSL's cipher name, e.g. `TLS_AES_256_GCM_SHA384`. */
  cipher: string | null;
  cipherStandardName: string | null;
  /** X509_V_OK (0) or the X509_V_ERR_* code of the peer's certificate. */
  verifyResult: number;
  verifyMessage: string;
  servername: string | null;
  resumed: boolean;
  /** The key exchange group, e.g. `x25519`. */
  group: string | null;
  /** The protocol ALPN selected, e.g. `h2`; null when none was. */
  alpnProtocol: string | null;
  /** The TLS SignatureScheme of the peer's handshake signature, e.g. `ecdsa_secp256r1_sha256`. */
  signatureScheme: string | null;
  sentShutdown: boolean;
  receivedShutdown: boolean;
}

/** Options of `new Session`; each is read once, before the SSL exists. */
export interface SessionOptions {
  /** SNI to send (clients). Ignored for IP literals. No NUL byte, no leading dot; one trailing dot is stripped. */
  servername?: string;
  /** Host name or IP address the server's certificate must match (clients). Read as `servername` is. */
  verifyHost?: string;
  /** Overrides the verify mode. Default: a client verifies the server unless `setVerify` was called on the context. */
  verifyPeer?: boolean;
  /** ALPN offer in wire format (clients); overrides the context's list. */
  alpnProtocols?: Uint8Array;
  /** A session from `getSession()` to resume (clients). */
  session?: Uint8Array;
  /** Offer TLS 1.3 post-handshake authentication (clients). Default: when the context has a certificate. */
  postHandshakeAuth?: boolean;
}

/**
 * One SSL over a pair of memory BIOs.
 *
 * Re-entrancy: while one of its calls runs (OpenSSL calling an SNI or keylog
 * callback, a getter in an argument, the error factory), `cycle`,
 * `cycleAsync`, `write`, `shutdown` and `verifyClientPostHandshake` throw
 * ERR_TLS_STATE, and `free()` is deferred to the end of the outermost call,
 * which then throws ERR_TLS_CLOSED. Queries answer.
 */
export interface NativeSession {
  /**
   * Feeds ciphertext that arrived (optional), advances the handshake and
   * decrypts every complete record. Results land in the session's `out` array.
   * @returns CycleFlag bits.
   */
  cycle(chunk?: Uint8Array | null, length?: number): number;
  /**
   * Like `cycle`, but the handshake step runs on libuv's thread pool. Returns
   * -1 when it does: `callback(flags)` follows on the loop thread with the
   * results in `out`, and until then every other call throws ERR_TLS_STATE
   * (`free()` is deferred to the completion). Otherwise it ran synchronously
   * (handshake done, or a JS SNI/keylog callback is installed) and returns
   * the CycleFlag bits.
   */
  cycleAsync(chunk: Uint8Array | null | undefined, length: number | undefined, callback: (flags: number) => void): number;
  /**
   * Encrypts plaintext; the ciphertext lands in `out[1]`. Every chunk is read
   * before any is written. Throws ERR_TLS_STATE before the handshake completes
   * and ERR_TLS_INVALID_ARGUMENT for a bad chunk (nothing written either way);
   * when OpenSSL fails to write, throws that error and the session is dead.
   */
  write(data: Uint8Array | string | ReadonlyArray<Uint8Array | string>): number;
  /** Queues close_notify in `out[1]`; no-op before the handshake completes. */
  shutdown(): number;
  info(): SessionInfo;
  peerCertificate(): CertificateSummary | null;
  /** The peer's certificates, leaf first: as sent, or (`verified`) as verified up to the trust anchor. */
  peerCertificateChain(verified?: boolean): CertificateSummary[];
  /** RFC 5705 keying material; only after a successful handshake. */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array | string): Buffer;
  /** The session to resume later (DER), or null while none is resumable. */
  getSession(): Buffer | null;
  /** Server, TLS 1.3: sends a CertificateRequest (in `out[1]`); `cycle` reports CycleFlag.PeerCertificate when answered. */
  verifyClientPostHandshake(): number;
  /** Server: the session ID the paused handshake asks the store for (after CycleFlag.SessionLookup), else null. */
  sessionStoreRequest(): Buffer | null;
  /**
   * Server: the store's answer (DER, or null for none) to the pending lookup;
   * true when it is that ID's session. Then `cycle()` goes on. ERR_TLS_STATE
   * when no lookup is pending.
   */
  sessionStoreAnswer(session: Uint8Array | null): boolean;
  /** Server: the new sessions to store since the last call (CycleFlag.Session reports them). */
  takeStoreSessions(): StoreSession[];
  free(): void;
  isFreed(): boolean;
  pointer(): bigint;
}

/**
 * One SSL_CTX. `free()` during one of its own calls (a getter, a prototype
 * setter) is deferred to the end of that call; sessions made from it keep
 * their own reference, so freeing it under live sessions (also from one of
 * their callbacks) is safe. Setters may be called from a handshake callback.
 */
export interface NativeContext {
  /** SSL_CTX_set_verify with the documented SSL_VERIFY_* flags. */
  setVerify(mode: number): void;
  getVerifyMode(): number;
  loadVerifyLocations(file: string | null, directory?: string | null): void;
  setDefaultVerifyPaths(): void;
  /** Adds every certificate of a PEM bundle to the trust store; returns how many. */
  addCACertificates(pem: string | Uint8Array): number;
  /** A certificate (and, for PEM, its chain) from a path (`isFile`) or from memory. */
  useCertificateChain(source: string | Uint8Array, isFile: boolean, fileType: number): void;
  /** A private key from a path or memory; checked against the certificate. */
  usePrivateKey(source: string | Uint8Array, isFile: boolean, fileType: number): void;
  setCipherList(ciphers: string): void;
  setCiphersuites(ciphersuites: string): void;
  /** TLS1_2_VERSION = 0x0303, TLS1_3_VERSION = 0x0304; 0 leaves the bound open. */
  setProtocolVersions(min: number, max: number): void;
  getProtocolVersions(): [min: number, max: number];
  /** ALPN list in wire format, most preferred first; empty turns ALPN off. Servers with `rejectUnknown` refuse clients with no common protocol. */
  setAlpnProtocols(wire: Uint8Array, rejectUnknown: boolean): void;
  /** Connections asking for `servername` (`*.x` matches one label) continue on `context`; null removes the entry. */
  addServerNameContext(servername: string, context: NativeContext | null): void;
  /** Called (synchronously, during the handshake) for a server name the table has not; returns the context to use or undefined. Held weakly. */
  setServernameCallback(callback: ((servername: string) => NativeContext | undefined) | null): void;
  /** Receives each NSS key log line (no newline). Held weakly. */
  setKeylogCallback(callback: ((line: string) => void) | null): void;
  /**
   * Tickets on/off; server cache size (0 = off, -1 = keep); session lifetime in seconds (-1 = keep);
   * a new ticket on every resumption (1) or only for a stale ticket (0, the default; -1 or absent = keep).
   */
  setSessionOptions(tickets: boolean, cacheSize: number, timeoutSeconds: number, renewAlways?: number): void;
  /** Ticket keys: n × 80 bytes (name 16 | HMAC 32 | AES 32); the first seals new tickets. */
  setTicketKeys(keys: Uint8Array): void;
  getTicketKeys(): Buffer | null;
  free(): void;
  isFreed(): boolean;
  pointer(): bigint;
}

export interface GenerateCertificateOptions {
  /** Default `localhost`. */
  commonName?: string;
  /** DNS names and IP addresses for subjectAltName. */
  altNames?: string[];
  /** Default `ec` (P-256). */
  keyType?: 'ec' | 'rsa';
  /** Default 2048. */
  rsaBits?: number;
  isCA?: boolean;
  /** Start of validity relative to now. Default -3600. */
  notBeforeOffsetSeconds?: number;
  /** Length of validity. Default one year. */
  validSeconds?: number;
  /** Sign with this CA instead of self-signing. */
  issuerCert?: string;
  issuerKey?: string;
}

/** What `wait(events)` waits for and resolves with (bits). */
export const WaitFor = {
  Readable: 1,
  Writable: 2,
} as const;

/** The state of an SSL running on a socket descriptor or a BIO chain: the memory session's record, and the role. */
export interface FdSslInfo extends SessionInfo {
  /** In accept state (set_accept_state, accept(), or a server context). */
  isServer: boolean;
  /** In connect state. Neither before a role is set. */
  isClient: boolean;
}

/**
 * One SSL on a socket descriptor (a dup of it), non-blocking. Each I/O call
 * makes one attempt: a negative number means "retry after `wait(-n)`".
 */
export interface NativeFdSsl {
  setConnectState(): void;
  setAcceptState(): void;
  /** Runs the SSL on a dup of `fd` (made non-blocking); the caller's descriptor stays theirs. */
  setFd(fd: number): void;
  /** The descriptor given to setFd, else the SSL's own, else -1. */
  getFd(): number;
  /** Client: SNI and the name (or IP address) the certificate must match. Default: the peer's IP address. */
  setHost(host: string): void;
  /** 1 when the handshake is done, or a negative wait mask. */
  connect(): number;
  accept(): number;
  /** 1..length bytes, null after the peer's close_notify, or a negative wait mask. */
  read(length: number): Buffer | null | number;
  /** Bytes taken (a partial write is possible), or a negative wait mask. */
  write(data: Uint8Array | string): number;
  /** 1 both close_notify done, 0 ours sent, or a negative wait mask. */
  shutdown(): number;
  /** SSL_get_error of the last attempt, or of `ret`. */
  error(ret?: number): number;
  /**
   * Resolves with the events that fired (WaitFor bits; a wait for both ends on
   * the first); rejects on free(), a poll error, or (ERR_TLS_TIMEOUT) after
   * `timeoutMs` (0 or absent: no deadline).
   */
  wait(events: number, timeoutMs?: number): Promise<number>;
  info(): FdSslInfo;
  free(): void;
  isFreed(): boolean;
  pointer(): bigint;
  /** The session to resume later (DER), or null while none is resumable. */
  getSession(): Buffer | null;
  /** Client, before the handshake: offer a session from getSession(). */
  setSession(session: Uint8Array): void;
  sessionReused(): boolean;
  /** Client, before the handshake: ALPN protocols in wire format (empty: none). */
  setAlpnProtocols(wire: Uint8Array): void;
  alpnProtocol(): string | null;
  peerCertificate(): CertificateSummary | null;
}

/** One BIO (BIO_f_ssl, BIO_s_connect, BIO_s_accept, or an accepted socket), non-blocking. */
export interface NativeBio {
  setSsl(ssl: NativeFdSsl, close: boolean): void;
  setConnHostname(name: string): void;
  setConnAddress(address: string): void;
  setConnPort(port: string): void;
  setConnFamily(family: number): void;
  setAcceptName(name: string): void;
  setAcceptPort(port: string): void;
  setAcceptFamily(family: number): void;
  getConnHostname(): string;
  getConnAddress(): string;
  getConnPort(): string;
  getConnFamily(): number;
  getAcceptName(): string;
  getAcceptPort(): string;
  getAcceptFamily(): number;
  getFd(): number;
  setFd(fd: number, close: boolean): void;
  /** BIO_push: appends `b` at the end of this chain; returns this. */
  push(b: NativeBio): NativeBio;
  /** BIO_pop: takes this BIO out of its chain; returns the BIO that followed it, or null. */
  pop(): NativeBio | null;
  /** 1..length bytes, null at the end of input, or a negative wait mask. */
  read(length: number): Buffer | null | number;
  /** Bytes taken, or a negative wait mask. */
  write(data: Uint8Array | string): number;
  /** BIO_do_connect / BIO_do_accept / BIO_do_handshake: 1 when done, or a negative wait mask. */
  doHandshake(): number;
  shouldRetry(): boolean;
  /** As NativeFdSsl.wait. */
  wait(events: number, timeoutMs?: number): Promise<number>;
  /** OpenSSL error number of the last failed call (0 after success), or the reason part of `code`. */
  lastError(code?: number): number;
  errorString(code?: number): string;
  free(): void;
  /** BIO_free_all: this BIO and every BIO after it. */
  freeAll(): void;
  isFreed(): boolean;
  pointer(): bigint;
  kind(): 'ssl' | 'connect' | 'accept' | 'socket';
}

/** Per-connection settings of the native transport (server-wide for a server). */
export interface TransportSettings {
  /** Milliseconds the handshake may take (a client: from connect). Default 10 000; 0 disables. */
  handshakeTimeout?: number;
  /** Milliseconds without reads or writes before the connection fails. Default 0: none. */
  idleTimeout?: number;
  /** Keep writing after the peer's close_notify. Default false. */
  allowHalfOpen?: boolean;
  /** TCP_NODELAY. Default true. */
  noDelay?: boolean;
  keepAlive?: boolean;
  /** Milliseconds; rounded down to seconds. Default 60 000. */
  keepAliveInitialDelay?: number;
  /** Unsent ciphertext (bytes) at which `write` returns false. Default 65 536. */
  highWaterMark?: number;
  /**
   * Handshake steps on libuv's thread pool (see TlsEngineOptions.handshakeOffload).
   * While a step runs the connection reads nothing and its SSL queries throw
   * ERR_TLS_STATE. Default false.
   */
  handshakeOffload?: boolean;
}

/** Options of `tcpConnect`: the client session options, the settings and a local address. */
export interface TransportConnectOptions extends SessionOptions, TransportSettings {
  localAddress?: string;
}

/**
 * Options of `tcpAdopt`: the settings, a client's session options, and the
 * ciphertext already read from the descriptor.
 */
export interface TransportAdoptOptions extends SessionOptions, TransportSettings {
  /** Bytes the caller read from the descriptor before handing it over: the peer's first TLS bytes. */
  initial?: Uint8Array;
}

/** The local and remote ends of a native connection; fields unknown after close are absent. */
export interface TransportAddress {
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  remoteFamily?: 'IPv4' | 'IPv6';
}

/** One TLS connection on a native TCP handle (the native transport). */
export interface NativeTcpConnection {
  /** Encrypts and sends (before a client's handshake: queued). False at the high-water mark: wait for `drain`. */
  write(data: Uint8Array | string | ReadonlyArray<Uint8Array | string>): boolean;
  /** close_notify, then the TCP end. Idempotent. */
  end(): void;
  /** Closes at once, without close_notify. */
  destroy(): void;
  pause(): void;
  resume(): void;
  /** Ciphertext (and early plaintext) not yet taken by the kernel, in bytes. */
  bufferedAmount(): number;
  info(): SessionInfo;
  peerCertificate(): CertificateSummary | null;
  peerCertificateChain(verified?: boolean): CertificateSummary[];
  /** The handshake resumed a session (SSL_session_reused). */
  isResumed(): boolean;
  alpnProtocol(): string | null;
  getSession(): Buffer | null;
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array | string): Buffer;
  address(): TransportAddress;
  setNoDelay(noDelay?: boolean): void;
  setKeepAlive(enable: boolean, initialDelay?: number): void;
  ref(): void;
  unref(): void;
  isClosed(): boolean;
  /** Call `finish` once the FIN is out (not called unless asked). */
  watchFinish(): void;
  /** The FIN after `end()` was handed to the kernel. */
  isFinished(): boolean;
  /**
   * Server: the session store's answer to the lookup `sessionLookup` asked
   * for (a DER session, or null). True when it is that ID's session; the
   * handshake goes on from the loop either way.
   */
  sessionStoreAnswer(session: Uint8Array | null): boolean;
  /** Server with a session store: the new sessions since the last call (on `session`). */
  takeStoreSessions(): StoreSession[];
  /** Server, TLS 1.3: sends a CertificateRequest; `peerCertificate` follows the client's answer. */
  verifyClientPostHandshake(): void;
}

/** A listening native TCP server running TLS on each connection. */
export interface NativeTcpServer {
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number };
  /** Stops accepting; `serverClose` follows when every connection is gone too. */
  close(): void;
  ref(): void;
  unref(): void;
  /** Live connections (handshaking or open). */
  connections(): number;
  /** Closes every live connection at once (no close_notify); returns how many. */
  destroyConnections(): number;
}

/** What `tcpListen` reads from its settings: the connections' settings and the listener's own. */
export interface ListenSettings extends TransportSettings {
  /** Bind with SO_REUSEPORT (Linux, the BSDs, macOS): several processes listen on one address. */
  reusePort?: boolean;
  /** The PROXY protocol header every connection starts with, from these balancers (resolved by core). */
  proxyProtocol?: NativeProxySettings;
}

/** `ListenSettings.proxyProtocol`: trusted balancers (an address and a prefix length each) and the header's limits. */
export interface NativeProxySettings {
  trusted: ReadonlyArray<{ address: string; bits: number }>;
  /** Milliseconds a trusted peer has to send its whole header. */
  timeout: number;
  /** Longest header accepted, bytes (232 to 65551). */
  maxHeaderLength: number;
}

/**
 * What the native transport calls, each with `this` = the owner object given
 * to `tcpConnect`/`tcpListen` (or returned by `secure` for an accepted connection).
 */
export interface TransportCallbacks {
  /** Client: secure (no argument). Server (`this` = server owner): a new secure connection; returns its owner. */
  secure(this: object, connection?: NativeTcpConnection): object | void;
  /** A batch of plaintext: a view of `length` bytes at `offset` of the loop's slab (never rewritten). */
  data(this: object, slab: ArrayBuffer, offset: number, length: number): void;
  /** The unsent ciphertext fell under the high-water mark after a `write` returned false. */
  drain(this: object): void;
  /** The peer's close_notify arrived. */
  end(this: object): void;
  /** The connection closed; `error` when it failed. */
  close(this: object, error: Error | undefined): void;
  /** Client: a new resumable session (ticket) arrived: `getSession()` has it. */
  session(this: object): void;
  /** After `end()`: everything written, close_notify and the TCP FIN included, was taken by the kernel. */
  finish(this: object): void;
  /** Server: an accepted connection failed before its handshake completed. */
  serverError(this: object, error: Error): void;
  /** Server: closed, and no connection is left. */
  serverClose(this: object): void;
  /**
   * Server (`this` = server owner): a handshake waits for the session store:
   * answer `id` with `connection.sessionStoreAnswer()`.
   */
  sessionLookup(this: object, connection: NativeTcpConnection, id: Buffer): void;
  /** Server: the client answered `verifyClientPostHandshake()`. */
  peerCertificate(this: object): void;
}

export interface Binding {
  Context: new (method: bigint) => NativeContext;
  Session: new (context: NativeContext, isServer: boolean, out: SessionOut, options?: SessionOptions) => NativeSession;
  /** Addresses of TLS_method(), TLS_client_method(), TLS_server_method(). */
  methods: { TLS_method: bigint; TLS_client_method: bigint; TLS_server_method: bigint };
  FdSsl: new (context: NativeContext) => NativeFdSsl;
  Bio: new (method: bigint) => NativeBio;
  /** Addresses of BIO_f_ssl(), BIO_s_connect(), BIO_s_accept(). */
  bioMethods: { BIO_f_ssl: bigint; BIO_s_connect: bigint; BIO_s_accept: bigint };
  /** Installs the factory the addon uses for every error it throws. */
  setErrorFactory(factory: (code: string, message: string, props: Record<string, unknown>) => Error): void;
  generateCertificate(options?: GenerateCertificateOptions): { cert: string; key: string };
  parseCertificate(certificate: string | Uint8Array): CertificateSummary;
  /** Loads the key, certificate and chain of a PKCS#12 (PFX) bundle into `context`. */
  usePkcs12(context: NativeContext, pfx: Uint8Array, passphrase?: string): void;
  /** `SSL_CTX_set1_groups_list`: key exchange groups, colon separated, most preferred first. */
  setGroups(context: NativeContext, groups: string): void;
  /** `SSL_CTX_set1_sigalgs_list`: signature algorithms, colon separated. */
  setSigalgs(context: NativeContext, sigalgs: string): void;
  /** The OpenSSL version string the addon runs on (equals process.versions.openssl). */
  opensslVersion: string;
  /**
   * Live native objects by class (`Context`, `Session`, `FdSsl`, `Bio`), for
   * debugging and leak tests: an object counts from construction until its
   * wrapper is garbage-collected (after `free()`), so after GC these return to
   * zero. `PollHandle` counts libuv readiness watchers (with their dup'd
   * descriptors) until libuv has closed them.
   */
  debugCounters(): Record<string, number>;
  /** setsockopt(2) on a socket descriptor; an allow-list of int options (SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_REUSEADDR, TCP_NODELAY). */
  setsockopt(fd: number, level: number, name: number, value: number): void;
  /** getsockopt(2) of one of the options `setsockopt` accepts. */
  getsockopt(fd: number, level: number, name: number): number;
  /**
   * Server contexts: ask every client for a certificate and finish the
   * handshake whatever it sends (none, verified or not); the session's
   * `verifyResult` and `peerCertificate()` tell which. `setVerify` replaces it.
   */
  setVerifyUnverified(context: NativeContext): void;
  /**
   * Server contexts: resume only through an external session store (OpenSSL's
   * internal cache neither stores nor looks up). Sessions' handshakes pause
   * at a ClientHello that asks to resume (CycleFlag.SessionLookup) and report
   * new sessions (CycleFlag.Session, `takeStoreSessions()`). False restores
   * the internal cache.
   */
  setSessionStore(context: NativeContext, enabled: boolean): void;
  /** Installs the native transport's callbacks (once per thread, by core). */
  setTransportCallbacks(callbacks: TransportCallbacks): void;
  /** Binds and listens (throws a SocketError such as EADDRINUSE). `host` is an IP address. */
  tcpListen(
    context: NativeContext,
    host: string,
    port: number,
    backlog: number,
    ipv6Only: boolean,
    settings: ListenSettings,
    owner: object,
  ): NativeTcpServer;
  /** Starts a client connection to an IP address. */
  tcpConnect(context: NativeContext, ip: string, port: number, options: TransportConnectOptions, owner: object): NativeTcpConnection;
  /**
   * Runs TLS natively over a connected TCP descriptor JS holds. The
   * descriptor is duplicated: the caller stops using its own handle for I/O
   * and closes it once this connection closed (the kernel ends the TCP
   * connection when both are closed). The first step runs from the loop.
   */
  tcpAdopt(context: NativeContext, fd: number, isServer: boolean, options: TransportAdoptOptions, owner: object): NativeTcpConnection;
  /**
   * The native listener's PROXY protocol parser (for tests): `{ header,
   * length }`, or null while `buffer` is a valid beginning; a refused header
   * throws an ERR_TLS_HANDSHAKE error with `proxyProtocol: true`.
   */
  parseProxyHeader(buffer: Uint8Array, maxLength?: number): NativeProxyParse | null;
}

/** What `parseProxyHeader` returns (the shape of core's ProxyHeader). */
export interface NativeProxyParse {
  header: {
    version: 1 | 2;
    command: 'proxy' | 'local';
    source?: { address: string; port: number; family: 'IPv4' | 'IPv6' };
    destination?: { address: string; port: number; family: 'IPv4' | 'IPv6' };
  };
  length: number;
}

/** The loaded addon. */
export const binding = loadBinding() as Binding;
