// Client and server entry points of the engine: a TLS connection from a
// host and port, and a TLS server that wraps each accepted socket.
import { isIP } from 'node:net';
import * as net from 'node:net';

import { SSL_VERIFY_FAIL_IF_NO_PEER_CERT, SSL_VERIFY_PEER } from './constants.js';
import { setVerifyUnverified, type TicketRenewal } from './context-features.js';
import { applyContextOptions, type ContextOptions } from './context-options.js';
import { TlsEngine, checkIdleTimeout, type TlsEngineOptions } from './engine.js';
import { InvalidArgumentError } from './errors.js';
import { applyFleetOptions, startTicketRotation, type FleetOptions } from './fleet-options.js';
import { nativeProxySettings } from './proxy-listener.js';
import { checkSessionStore, checkSessionStoreTimeout, DEFAULT_SESSION_STORE_TIMEOUT, enableSessionStore } from './session-store.js';
import { connectNative, NativeTlsConnection, NativeTlsServer, type NativeTransportOptions } from './native-transport.js';
import { adoptAcceptedSocket, createPausedSocket, startReading } from './net-handle.js';
import { checkPort } from './socket-args.js';
import type { SecureConnection } from './secure-connection.js';
import { SSLContext, TLSClientContext, TLSServerContext } from './ssl-context.js';

/**
 * Client settings. `servername` is also the name the certificate must match
 * unless `verifyHost` is given (`''` checks no name). The `ContextOptions`
 * (`minVersion`, `ciphers`, `pfx`, …) apply with the default `context`.
 */
export interface ClientOptions extends Omit<TlsEngineOptions, 'isServer'>, ContextOptions {
  host: string;
  port: number;
  /** A client (or generic) context. Default: a new TLSClientContext with `ca`, `cert`, `key` applied. */
  context?: SSLContext;
  /** Extra trusted CA certificates, PEM (with the default `context`). */
  ca?: string | Buffer;
  /** Client certificate and key, PEM (with the default `context`). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Shorthand for `verifyPeer`: false accepts any server certificate. */
  rejectUnauthorized?: boolean;
  /** Bind the local side to this address. */
  localAddress?: string;
  /** Receives this connection's key material as NSS key log lines (set on the context). */
  keylog?: (line: string) => void;
  /**
   * `'native'` (default): the socket lives in the addon (NativeTlsConnection).
   * `'js'`: a TlsEngine over a net.Socket (TLS over any transport). Every
   * option works on both.
   */
  transport?: Transport;
}

/**
 * Where the ciphertext flows: `'native'` (the default) on a TCP handle the
 * addon owns (NativeTlsConnection; no JS call during the handshake, one per
 * batch of plaintext), or `'js'` through a net.Socket (TlsEngine, whose
 * ciphertext can also run over any other transport).
 */
export type Transport = 'js' | 'native';

type ClientOnly = 'isServer' | 'servername' | 'verifyHost' | 'verifyPeer' | 'alpnProtocols' | 'session' | 'postHandshakeAuth';

/**
 * Server settings. The TLS features (`alpnProtocols`, `sni`, `sniCallback`,
 * `ticketKeys`, `requestCert`, …) are applied to the context, also to a
 * `context` you pass in.
 */
export interface ServerOptions extends Omit<TlsEngineOptions, ClientOnly | 'checkServerIdentity'>, FleetOptions, ContextOptions {
  /** A server (or generic) context; or give `cert` and `key` (or `pfx`). */
  context?: SSLContext;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** CA certificates to verify client certificates with, PEM. */
  ca?: string | Buffer;
  /**
   * Ask clients for a certificate. Default false.
   * - `true`: the certificate is verified against `ca`; one that fails is
   *   refused (and, unless `rejectUnauthorized: false`, so is a client
   *   that sends none).
   * - `'unverified'`: ask, but serve every client, with a certificate that
   *   verifies, one that does not (self-signed, unknown CA, expired) or none
   *   (as node:tls's `requestCert` with `rejectUnauthorized: false`, nginx's
   *   `ssl_verify_client optional_no_ca`). The application decides per
   *   connection from `engine.authorized`, `engine.authorizationError` and
   *   `engine.peerCertificate()` (pinning a fingerprint, say).
   *   `rejectUnauthorized` does not apply.
   */
  requestCert?: boolean | 'unverified';
  /** With `requestCert: true`: refuse clients that send no certificate. Default true. A certificate that fails verification is always refused. */
  rejectUnauthorized?: boolean;
  /** ALPN protocols in order of preference; the first the client also offers is chosen. */
  alpnProtocols?: ReadonlyArray<string>;
  /** Refuse a client that offers ALPN but nothing in common (alert 120). Default true. */
  rejectUnknownAlpn?: boolean;
  /** SNI: a context per server name (`*.example.com` matches one label); other names use the default context. */
  sni?: Readonly<Record<string, SSLContext>> | ReadonlyMap<string, SSLContext>;
  /** SNI: called, synchronously, for a server name `sni` does not list; returns the context or undefined. */
  sniCallback?: (servername: string) => SSLContext | undefined;
  /** Session ticket keys (`generateTicketKeys()`); servers sharing them resume each other's sessions. */
  ticketKeys?: Uint8Array;
  /**
   * Issue session tickets (default true, false with `sessionStore`); false
   * leaves resumption to the server's session cache or `sessionStore`.
   */
  sessionTickets?: boolean;
  /** Session (and ticket) lifetime in seconds. */
  sessionTimeout?: number;
  /**
   * When a resumed connection gets a new ticket: `'stale'` (default) when its
   * ticket was sealed with an older key or has lived half its lifetime,
   * `'always'` on every resumption (see `SessionCacheOptions.renew_tickets`).
   */
  renewTickets?: TicketRenewal;
  /** Receives the key material of every connection as NSS key log lines. */
  keylog?: (line: string) => void;
  /** `'native'` (default) or `'js'` (see ClientOptions.transport). */
  transport?: Transport;
  /**
   * Bind the listener with `SO_REUSEPORT` (Linux, the BSDs, macOS), so that
   * several processes listen on one address and the kernel spreads new
   * connections over them (see `runWorkers`). Only with `transport:
   * 'native'` (the default): Node 20's `net` cannot set it.
   */
  reusePort?: boolean;
}

/** Builds the context a client uses when none is given. */
export function clientContext(options: Pick<ClientOptions, 'context' | 'ca' | 'cert' | 'key' | 'keylog'> & ContextOptions): SSLContext {
  if (options.context) {
    if (options.keylog) options.context.set_keylog_callback(options.keylog);
    return options.context;
  }
  const ctx = new TLSClientContext();
  if (options.keylog) ctx.set_keylog_callback(options.keylog);
  if (options.ca) ctx.set_verify_locations(options.ca);
  if (options.cert || options.key) {
    if (!options.cert || !options.key) throw new InvalidArgumentError('Expected both "cert" and "key"');
    ctx.load_certs(options.cert, options.key);
  }
  applyContextOptions(ctx, options);
  return ctx;
}

/** Builds the context a server uses when none is given. */
export function serverContext(options: ServerOptions): SSLContext {
  let ctx = options.context;
  if (!ctx) {
    if ((!options.cert || !options.key) && !options.pfx)
      throw new InvalidArgumentError('Expected a "context", "cert" and "key", or "pfx"');
    ctx = new TLSServerContext();
    if (options.cert && options.key) ctx.load_certs(options.cert, options.key);
    if (options.ca) ctx.set_verify_locations(options.ca);
  }
  applyContextOptions(ctx, options);
  applyServerFeatures(ctx, options);
  return ctx;
}

/** Puts the TLS feature options of a server on its context. */
function applyServerFeatures(ctx: SSLContext, o: ServerOptions): void {
  const rc = o.requestCert;
  if (rc !== undefined && typeof rc !== 'boolean' && rc !== 'unverified')
    throw new InvalidArgumentError('Expected "requestCert" to be a boolean or \'unverified\'');
  if (rc === 'unverified') setVerifyUnverified(ctx);
  else if (rc) ctx.set_verify(SSL_VERIFY_PEER | (o.rejectUnauthorized === false ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
  if (o.alpnProtocols) ctx.set_alpn_protocols(o.alpnProtocols, o.rejectUnknownAlpn ?? true);
  if (o.sni) {
    const entries = o.sni instanceof Map ? [...o.sni.entries()] : Object.entries(o.sni);
    for (const [name, sniCtx] of entries) ctx.set_servername_context(name, sniCtx);
  }
  if (o.sniCallback) ctx.set_servername_callback(o.sniCallback);
  if (o.ticketKeys) ctx.set_ticket_keys(o.ticketKeys);
  // A session store replaces OpenSSL's cache; tickets would bypass it.
  const tickets = o.sessionTickets ?? (o.sessionStore !== undefined ? false : undefined);
  if (o.sessionStore !== undefined) {
    checkSessionStore(o.sessionStore);
    if (o.sessionStoreTimeout !== undefined) checkSessionStoreTimeout(o.sessionStoreTimeout);
    enableSessionStore(ctx);
  }
  if (tickets !== undefined || o.sessionTimeout !== undefined || o.renewTickets !== undefined)
    ctx.set_session_options({
      ...(tickets !== undefined ? { tickets } : {}),
      ...(o.sessionTimeout !== undefined ? { timeout: o.sessionTimeout } : {}),
      ...(o.renewTickets !== undefined ? { renew_tickets: o.renewTickets } : {}),
    });
  if (o.keylog) ctx.set_keylog_callback(o.keylog);
}

/**
 * Opens a TCP connection and runs a TLS client over it. The host is sent as
 * SNI (unless it is an IP address) and the server's certificate must match
 * it; a `servername` replaces the host in both (as in node:tls).
 *
 * By default the connection is a NativeTlsConnection (the socket in the
 * addon); `transport: 'js'` gives a TlsEngine over a net.Socket. Both are a
 * SecureConnection.
 *
 * @example
 * const conn = connectTls({ host: 'localhost', port: 8443, ca });
 * conn.onsecure = () => conn.write('ping');
 */
export function connectTls(
  options: ClientOptions & { transport?: 'native' | undefined } & NativeTransportOptions,
): NativeTlsConnection;
export function connectTls(options: ClientOptions & { transport: 'js' }): TlsEngine;
export function connectTls(options: ClientOptions & NativeTransportOptions): TlsEngine | NativeTlsConnection;
export function connectTls(options: ClientOptions & NativeTransportOptions): TlsEngine | NativeTlsConnection {
  if (typeof options.host !== 'string' || options.host.length === 0)
    throw new InvalidArgumentError('Expected "host" to be a non-empty string');
  checkPort(options.port);
  checkTransportName(options.transport);
  const context = clientContext(options);
  if (options.transport !== 'js') return connectTlsNative(options, context);
  let engine: TlsEngine | undefined;
  // Reads into the shared buffer (net-handle.ts), like accepted sockets.
  const socket = createPausedSocket((n, buf) => (engine?.feed(buf, n), true));
  // Before connect it is remembered and applied once connected; a `noDelay`
  // option of connect() itself is ignored (only the constructor reads it).
  socket.setNoDelay(true);
  socket.connect({
    host: options.host,
    port: options.port,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const servername = options.servername ?? (isIP(options.host) ? undefined : options.host);
  try {
    engine = new TlsEngine(
      socket,
      context,
      {
        ...options,
        isServer: false,
        ...(servername !== undefined ? { servername } : {}),
        verifyHost: options.verifyHost ?? options.servername ?? options.host,
        ...(options.rejectUnauthorized !== undefined && options.verifyPeer === undefined
          ? { verifyPeer: options.rejectUnauthorized }
          : {}),
      },
      false,
    );
  } catch (err) {
    // A bad option (a session that does not decode, …): the socket must not outlive the throw.
    socket.on('error', () => {});
    socket.destroy();
    throw err;
  }
  startReading(socket);
  return engine;
}

/**
 * A TLS server. By default (the native transport) the addon accepts and
 * handshakes each connection and hands it to `onConnection` once it is
 * secure (`onsecure` fires right after); the result is a NativeTlsServer.
 * With `transport: 'js'` it is a net.Server that runs a TlsEngine on each
 * accepted socket and hands the engine over at once, before the handshake
 * (attach handlers there; `onsecure` fires when the handshake is done).
 *
 * @example
 * const server = createTlsServer({ cert, key }, (conn) => {
 *   conn.ondata = (chunk) => conn.write(chunk);
 * });
 * server.listen(8443, '127.0.0.1');
 */
export function createTlsServer(
  options: ServerOptions & { transport?: 'native' | undefined } & NativeTransportOptions,
  onConnection: (connection: NativeTlsConnection) => void,
): NativeTlsServer;
export function createTlsServer(
  options: ServerOptions & { transport: 'js' },
  onConnection: (engine: TlsEngine) => void,
): net.Server;
export function createTlsServer(
  options: ServerOptions & NativeTransportOptions,
  onConnection: (connection: SecureConnection) => void,
): net.Server | NativeTlsServer;
export function createTlsServer(
  options: ServerOptions & NativeTransportOptions,
  onConnection: ((engine: TlsEngine) => void) | ((connection: NativeTlsConnection) => void),
): net.Server | NativeTlsServer {
  checkTransportName(options.transport);
  if (options.transport !== 'js') return createTlsServerNative(options, onConnection as (c: NativeTlsConnection) => void);
  if (options.reusePort !== undefined && options.reusePort !== false)
    throw new InvalidArgumentError('"reusePort" needs transport: "native" (Node 20\'s net cannot bind with SO_REUSEPORT)');
  const context = serverContext(options);
  // Checked once here: an engine refusing it would drop every connection unseen.
  if (options.idleTimeout !== undefined) checkIdleTimeout(options.idleTimeout);
  const engineOptions: TlsEngineOptions = {
    isServer: true,
    ...(options.handshakeTimeout !== undefined ? { handshakeTimeout: options.handshakeTimeout } : {}),
    ...(options.idleTimeout !== undefined ? { idleTimeout: options.idleTimeout } : {}),
    ...(options.allowHalfOpen !== undefined ? { allowHalfOpen: options.allowHalfOpen } : {}),
    // Handshake steps on the thread pool (see TlsEngineOptions.handshakeOffload).
    ...(options.handshakeOffload !== undefined ? { handshakeOffload: options.handshakeOffload } : {}),
    ...(options.sessionStore !== undefined ? { sessionStore: options.sessionStore } : {}),
    ...(options.sessionStoreTimeout !== undefined ? { sessionStoreTimeout: options.sessionStoreTimeout } : {}),
  };
  const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
    let engine: TlsEngine | undefined;
    const socket = adoptAcceptedSocket(accepted, (n, buf) => (engine?.feed(buf, n), true));
    try {
      engine = new TlsEngine(socket, context, engineOptions, false);
    } catch {
      // The context was freed under a running server: refuse the connection.
      socket.destroy();
      return;
    }
    (onConnection as (engine: TlsEngine) => void)(engine);
    startReading(socket);
  });
  // ticketSecret (rotating ticket keys) and proxyProtocol (a gate before the handler above).
  return applyFleetOptions(server, context, options);
}

/** A misspelt transport must not silently become the default. */
function checkTransportName(transport: unknown): void {
  if (transport !== undefined && transport !== 'js' && transport !== 'native')
    throw new InvalidArgumentError('Expected "transport" to be \'native\' or \'js\'');
}

/** The native transport's own checks of options the JS transport checks in TlsEngine. */
function checkTransport(options: { handshakeOffload?: boolean }): void {
  if (options.handshakeOffload !== undefined && typeof options.handshakeOffload !== 'boolean')
    throw new InvalidArgumentError('Expected "handshakeOffload" to be a boolean');
}

function connectTlsNative(options: ClientOptions & NativeTransportOptions, context: SSLContext): NativeTlsConnection {
  checkTransport(options);
  // Checked now, as on the JS transport: the native side reads its options only after the name lookup.
  if (options.idleTimeout !== undefined) checkIdleTimeout(options.idleTimeout);
  if (options.host.includes('\0')) throw new InvalidArgumentError('Expected "host" to be a name without NUL characters');
  const servername = options.servername ?? (isIP(options.host) ? undefined : options.host);
  const verifyPeer = options.verifyPeer ?? options.rejectUnauthorized;
  return connectNative({
    ...options,
    context,
    ...(servername !== undefined ? { servername } : {}),
    // As on the JS transport: a servername also names the host to verify.
    verifyHost: options.verifyHost ?? options.servername ?? options.host,
    ...(verifyPeer !== undefined ? { verifyPeer } : {}),
  });
}

function createTlsServerNative(
  options: ServerOptions & NativeTransportOptions,
  onConnection: (connection: NativeTlsConnection) => void,
): NativeTlsServer {
  checkTransport(options);
  if (options.reusePort !== undefined && typeof options.reusePort !== 'boolean')
    throw new InvalidArgumentError('Expected "reusePort" to be a boolean');
  if (typeof onConnection !== 'function') throw new InvalidArgumentError('Expected "onConnection" to be a function');
  const context = serverContext(options);
  if (options.idleTimeout !== undefined) checkIdleTimeout(options.idleTimeout);
  const settings = {
    ...(options.handshakeTimeout !== undefined ? { handshakeTimeout: options.handshakeTimeout } : {}),
    ...(options.idleTimeout !== undefined ? { idleTimeout: options.idleTimeout } : {}),
    ...(options.allowHalfOpen !== undefined ? { allowHalfOpen: options.allowHalfOpen } : {}),
    ...(options.keepAlive !== undefined ? { keepAlive: options.keepAlive } : {}),
    ...(options.keepAliveInitialDelay !== undefined ? { keepAliveInitialDelay: options.keepAliveInitialDelay } : {}),
    ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
    ...(options.reusePort === true ? { reusePort: true } : {}),
    // The listener reads and checks the PROXY header itself (tcp_proxy.cc).
    ...(options.proxyProtocol !== undefined ? { proxyProtocol: nativeProxySettings(options.proxyProtocol) } : {}),
    // Handshake steps on the thread pool (tcp_connection_offload.cc).
    ...(options.handshakeOffload !== undefined ? { handshakeOffload: options.handshakeOffload } : {}),
  };
  // serverContext checked sessionStore(Timeout) and turned the store on for the context.
  const store =
    options.sessionStore !== undefined
      ? { store: options.sessionStore, timeout: options.sessionStoreTimeout ?? DEFAULT_SESSION_STORE_TIMEOUT }
      : undefined;
  const server = new NativeTlsServer(context, settings, onConnection, store);
  // ticketSecret: the same rotating keys as on the JS transport (stopped at 'close').
  startTicketRotation(server, context, options);
  return server;
}
