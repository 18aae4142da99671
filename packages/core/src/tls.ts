// `@rxtls/core/tls`: node:tls's createServer and connect, with node:tls's
// option names and events, over rxtls. Sockets are TLSSocket (TlsDuplex) streams, so
// code written for node:tls (https-style servers, undici, ws, node:http2)
// moves to rxtls by changing its import.
//
// Not carried over: 'newSession'/'resumeSession' (rxtls resumes with session
// tickets and its own cache), 'OCSPRequest' (no OCSP stapling), a `socket`
// option (wrapping an existing socket), encrypted PEM keys (`passphrase`
// applies to `pfx`), and an SNICallback that answers later than
// synchronously. Certificates are rxtls's `CertificateSummary`, not
// node:tls's `PeerCertificate`.
import { hkdfSync } from 'node:crypto';
import type * as net from 'node:net';

import { connectTls, createTlsServer, serverContext, type ClientOptions, type ServerOptions } from './connect.js';
import { applyContextOptions, type ContextOptions } from './context-options.js';
import { TlsDuplex } from './duplex.js';
import type { TlsEngine } from './engine.js';
import { InvalidArgumentError } from './errors.js';
import type { CertificateSummary } from './native.js';
import { TICKET_KEY_LENGTH } from './context-features.js';
import { TLSClientContext, type SSLContext } from './ssl-context.js';

export { TlsDuplex } from './duplex.js';
/** node:tls's name for the socket class (not the documented ssl API's `TLSSocket` of `@rxtls/core`). */
export type TLSSocket = NodeTlsSocket;

/**
 * The socket of `createServer` and `connect`: a TlsDuplex whose
 * `authorized` and `authorizationError` are node:tls's (a string code such
 * as `'DEPTH_ZERO_SELF_SIGNED_CERT'`, null when the peer sent no
 * certificate or it verified), read at the handshake.
 */
export class NodeTlsSocket extends TlsDuplex {
  override get authorized(): boolean {
    return this.nodeAuthorized;
  }
  // @ts-expect-error node:tls's string replaces TlsDuplex's CertificateError here.
  override get authorizationError(): string | null {
    return this.nodeAuthorizationError;
  }
}

type Pem = string | Buffer;
type PemList = Pem | ReadonlyArray<Pem>;

/** Options both sides share, with node:tls's names. */
export interface CommonConnectionOptions extends ContextOptions {
  /** Private key, PEM (the first, when a list is given). */
  key?: PemList;
  /** Certificate with its chain, PEM (the first, when a list is given). */
  cert?: PemList;
  /** Trusted CA certificates, PEM, added to the system store (node:tls: used instead of it). */
  ca?: PemList;
  /** Server: ask for a client certificate. Client: ignored. */
  requestCert?: boolean;
  /** Refuse a peer whose certificate does not verify. Default true. */
  rejectUnauthorized?: boolean;
  /** ALPN protocols, most preferred first (strings, or node:tls's wire-format Buffer). */
  ALPNProtocols?: ReadonlyArray<string> | Uint8Array;
  /** Milliseconds the handshake may take. Default: rxtls's 10 000 (node:tls: 120 000). */
  handshakeTimeout?: number;
  /** Keep the writable side open after the peer ended. Default false. */
  allowHalfOpen?: boolean;
}

/** `createServer` options. */
export interface TlsServerOptions extends CommonConnectionOptions {
  /**
   * Picks a context per server name: call `callback(null, context)` (a
   * context from `createSecureContext`) before returning; a later call is
   * too late and the default context is used.
   */
  SNICallback?: (servername: string, callback: (err: Error | null, context?: SSLContext) => void) => void;
  /**
   * Session ticket keys: rxtls's 80-byte keys (`generateTicketKeys()`), or
   * node:tls's 48 bytes, from which rxtls derives its keys (servers given
   * the same 48 bytes share tickets with each other, not with node:tls).
   */
  ticketKeys?: Uint8Array;
  /** Session lifetime in seconds. */
  sessionTimeout?: number;
}

/** `connect` options. */
export interface TlsConnectionOptions extends CommonConnectionOptions {
  host?: string;
  port?: number;
  /** SNI to send, and the name the certificate must match. Default: `host` unless it is an IP address. */
  servername?: string;
  /** A session from `getSession()` or a 'session' event, to resume. */
  session?: Uint8Array;
  /**
   * Replaces the host name check: called after OpenSSL verified the chain,
   * with the name and the certificate summary; return (or throw) an Error to
   * refuse the server. Not called with `rejectUnauthorized: false`.
   */
  checkServerIdentity?: (hostname: string, cert: CertificateSummary | null) => Error | undefined | void;
  /** Bind the local side to this address. */
  localAddress?: string;
}

/** A node:tls-style server: a net.Server with the TLS events and methods of `tls.Server`. */
export interface Server extends net.Server {
  /** Connections for `hostname` (`*.example.com` matches one label) use the context of these options. */
  addContext(hostname: string, context: TlsServerOptions | SSLContext): void;
  setTicketKeys(keys: Uint8Array): void;
  getTicketKeys(): Buffer | null;
  on(event: 'secureConnection', listener: (socket: TLSSocket) => void): this;
  on(event: 'tlsClientError', listener: (error: Error, socket: TLSSocket) => void): this;
  /** `line` ends with a newline; rxtls cannot tell which connection it belongs to (`socket` is undefined). */
  on(event: 'keylog', listener: (line: Buffer, socket: undefined) => void): this;
  on(event: string, listener: (...args: any[]) => void): this;
}

function first(v: PemList | undefined, name: string): Pem | undefined {
  if (v === undefined || typeof v === 'string' || Buffer.isBuffer(v)) return v;
  if (!Array.isArray(v)) throw new InvalidArgumentError(`Expected "${name}" to be PEM text, a Buffer or an array of them`);
  return v[0] as Pem | undefined;
}

function joined(v: PemList | undefined): Pem | undefined {
  if (v === undefined || typeof v === 'string' || Buffer.isBuffer(v)) return v;
  return v.map((p) => (typeof p === 'string' ? p : p.toString('latin1'))).join('\n');
}

/** The context options of `o` that were given, and nothing else. */
function contextOptions(o: ContextOptions): ContextOptions {
  const out: ContextOptions = {};
  for (const k of ['minVersion', 'maxVersion', 'ciphers', 'ecdhCurve', 'sigalgs', 'pfx', 'passphrase'] as const)
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  return out;
}

/** rxtls's 80-byte ticket keys; node:tls's 48-byte form is stretched with HKDF. */
function ticketKeys(keys: Uint8Array): Uint8Array {
  if (keys.byteLength !== 48) return keys;
  return new Uint8Array(hkdfSync('sha256', keys, Buffer.alloc(0), 'rxtls node:tls ticket keys', TICKET_KEY_LENGTH));
}

function serverOptions(o: TlsServerOptions): ServerOptions {
  const key = first(o.key, 'key');
  const cert = first(o.cert, 'cert');
  const ca = joined(o.ca);
  const out: ServerOptions = {
    ...contextOptions(o),
    ...(key !== undefined ? { key } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(o.requestCert !== undefined ? { requestCert: o.requestCert } : {}),
    ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
    ...(o.sessionTimeout !== undefined ? { sessionTimeout: o.sessionTimeout } : {}),
    ...(o.ticketKeys !== undefined ? { ticketKeys: ticketKeys(o.ticketKeys) } : {}),
  };
  if (o.ALPNProtocols !== undefined) out.alpnProtocols = alpnList(o.ALPNProtocols);
  const sni = o.SNICallback;
  if (sni !== undefined) {
    if (typeof sni !== 'function') throw new InvalidArgumentError('Expected "SNICallback" to be a function');
    out.sniCallback = (name) => {
      let chosen: SSLContext | undefined;
      let failure: Error | null = null;
      sni(name, (err, ctx) => {
        failure = err;
        chosen = ctx;
      });
      if (failure) throw failure;
      return chosen;
    };
  }
  return out;
}

/** ALPN names from a list or node:tls's wire format. */
function alpnList(v: ReadonlyArray<string> | Uint8Array): string[] {
  if (!(v instanceof Uint8Array)) return [...v];
  const names: string[] = [];
  for (let i = 0; i < v.length; ) {
    const n = v[i]!;
    if (n === 0 || i + 1 + n > v.length) throw new InvalidArgumentError('Expected "ALPNProtocols" in ALPN wire format');
    names.push(Buffer.from(v.subarray(i + 1, i + 1 + n)).toString('latin1'));
    i += 1 + n;
  }
  return names;
}

/**
 * A server context from node:tls-style options, for `SNICallback` and
 * `addContext` (node:tls's `createSecureContext`).
 */
export function createSecureContext(options: TlsServerOptions): SSLContext {
  return serverContext(serverOptions(options));
}

/**
 * node:tls's `createServer`: `listener` (on 'secureConnection') receives
 * each connection as a TLSSocket once its handshake is done; connections
 * that fail before go to 'tlsClientError' (and are then dropped, without an
 * 'error' event).
 *
 * @example
 * import * as tls from '@rxtls/core/tls';
 * tls.createServer({ key, cert }, (socket) => socket.pipe(socket)).listen(8443);
 */
export function createServer(options: TlsServerOptions, listener?: (socket: TLSSocket) => void): Server;
export function createServer(listener?: (socket: TLSSocket) => void): Server;
export function createServer(
  a?: TlsServerOptions | ((socket: TLSSocket) => void),
  b?: (socket: TLSSocket) => void,
): Server {
  const options = typeof a === 'function' || a === undefined ? {} : a;
  const listener = typeof a === 'function' ? a : b;
  const context = createSecureContext(options);
  let server: Server | undefined;
  const engineOptions = {
    // node:tls's sockets are TLSSocket Duplexes over a TlsEngine: the JS transport.
    transport: 'js' as const,
    context,
    ...(options.handshakeTimeout !== undefined ? { handshakeTimeout: options.handshakeTimeout } : {}),
    ...(options.allowHalfOpen !== undefined ? { allowHalfOpen: options.allowHalfOpen } : {}),
  };
  // As secureDuplexes, with node:tls's sockets.
  const tcp = createTlsServer(engineOptions, (engine: TlsEngine) => {
    const socket = new NodeTlsSocket(engine, { onClientError: (err, s) => server!.emit('tlsClientError', err, s) });
    socket.once('secure', () => server!.emit('secureConnection', socket));
  });
  server = Object.assign(tcp, {
    addContext(hostname: string, ctx: TlsServerOptions | SSLContext): void {
      context.set_servername_context(hostname, isContext(ctx) ? ctx : createSecureContext(ctx));
    },
    setTicketKeys(keys: Uint8Array): void {
      context.set_ticket_keys(ticketKeys(keys));
    },
    getTicketKeys(): Buffer | null {
      return context.get_ticket_keys();
    },
  }) as Server;
  // Key logging costs a JS call per secret: on only while someone listens.
  server.on('newListener', (event) => {
    if (event === 'keylog' && server!.listenerCount('keylog') === 0)
      context.set_keylog_callback((line) => server!.emit('keylog', Buffer.from(`${line}\n`, 'latin1'), undefined));
  });
  server.on('removeListener', (event) => {
    if (event === 'keylog' && server!.listenerCount('keylog') === 0) context.set_keylog_callback(null);
  });
  if (listener) server.on('secureConnection', listener);
  return server;
}

function isContext(v: unknown): v is SSLContext {
  return typeof v === 'object' && v !== null && typeof (v as SSLContext).set_verify === 'function';
}

type ConnectArgs =
  | [options: TlsConnectionOptions, callback?: () => void]
  | [port: number, host?: string, options?: TlsConnectionOptions, callback?: () => void]
  | [port: number, options?: TlsConnectionOptions, callback?: () => void];

function parseConnectArgs(args: unknown[]): { options: TlsConnectionOptions; callback: (() => void) | undefined } {
  let options: TlsConnectionOptions = {};
  const rest = [...args];
  if (typeof rest[0] === 'number') {
    options.port = rest.shift() as number;
    if (typeof rest[0] === 'string') options.host = rest.shift() as string;
  }
  if (typeof rest[0] === 'object' && rest[0] !== null) options = { ...(rest.shift() as TlsConnectionOptions), ...options };
  const callback = typeof rest[0] === 'function' ? (rest[0] as () => void) : undefined;
  return { options, callback };
}

/**
 * node:tls's `connect`: a client connection as a TLSSocket; 'secureConnect'
 * (and `callback`) once the handshake is done, 'session' when a resumable
 * session arrives, 'keylog' with each secret.
 *
 * @example
 * import * as tls from '@rxtls/core/tls';
 * const socket = tls.connect(8443, 'localhost', { ca }, () => socket.end('hello'));
 */
export function connect(...args: ConnectArgs): TLSSocket {
  const { options: o, callback } = parseConnectArgs(args);
  const host = o.host ?? 'localhost';
  const key = first(o.key, 'key');
  const cert = first(o.cert, 'cert');
  const ca = joined(o.ca);
  const context = new TLSClientContext();
  let duplex: TLSSocket | undefined;
  const strict = o.rejectUnauthorized !== false;
  const check = o.checkServerIdentity;
  const options: ClientOptions & { transport: 'js' } = {
    host,
    port: o.port as number,
    context,
    transport: 'js',
    verifyPeer: strict,
    ...(o.servername !== undefined ? { servername: o.servername } : {}),
    ...(o.session !== undefined ? { session: o.session } : {}),
    ...(o.ALPNProtocols !== undefined ? { alpnProtocols: alpnList(o.ALPNProtocols) } : {}),
    ...(o.handshakeTimeout !== undefined ? { handshakeTimeout: o.handshakeTimeout } : {}),
    ...(o.allowHalfOpen !== undefined ? { allowHalfOpen: o.allowHalfOpen } : {}),
    ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
    // node:tls: a checkServerIdentity replaces the host name check.
    ...(check !== undefined ? { verifyHost: '', ...(strict ? { checkServerIdentity: check } : {}) } : {}),
  };
  if (ca !== undefined) context.set_verify_locations(ca);
  if (key !== undefined || cert !== undefined) {
    if (key === undefined || cert === undefined) throw new InvalidArgumentError('Expected both "cert" and "key"');
    context.load_certs(cert, key);
  }
  applyContextOptions(context, contextOptions(o));
  const engine = connectTls(options);
  engine.onsession = (session) => duplex?.emit('session', session);
  duplex = new NodeTlsSocket(engine);
  // Key logging costs a JS call per secret: on once someone listens (the
  // handshake starts after the TCP connect, so listeners added now see every line).
  duplex.on('newListener', (event) => {
    if (event === 'keylog' && duplex!.listenerCount('keylog') === 0)
      context.set_keylog_callback((line) => duplex!.emit('keylog', Buffer.from(`${line}\n`, 'latin1')));
  });
  if (callback) duplex.once('secureConnect', callback);
  return duplex;
}
