// Options of the rx factories. Kept in one file so listen() and connect()
// share the context and timeout settings word for word. The TLS feature
// fields are core's own (picked from ClientOptions / ServerOptions): one
// definition, one TSDoc, and a key list that both types the option and
// says what is passed on.
import type { AddressInfo } from 'node:net';

import { InvalidArgumentError, type ClientOptions, type ServerOptions, type SSLContext, type TlsEngineOptions, type TlsError, type Transport } from '@rxtls/core';

/** The connection settings both sides pass to the engine as given (the types below use it). */
const ENGINE_FIELDS = ['handshakeTimeout', 'idleTimeout', 'handshakeOffload'] as const;

/**
 * The fields of {@link ConnectOptions} that connect() passes to
 * core's `connectTls` as given (`host`, `port` and the context are its own).
 */
export const CLIENT_FIELDS = [
  ...ENGINE_FIELDS,
  'servername',
  'verifyHost',
  'rejectUnauthorized',
  'localAddress',
  'alpnProtocols',
  'session',
  'postHandshakeAuth',
] as const;

/** The fields of {@link ListenOptions} that listen() passes to core's `createTlsServer` as given. */
export const SERVER_FIELDS = [
  ...ENGINE_FIELDS,
  'context',
  'cert',
  'key',
  'ca',
  'requestCert',
  'rejectUnauthorized',
  'alpnProtocols',
  'rejectUnknownAlpn',
  'sni',
  'sniCallback',
  'ticketKeys',
  'sessionTickets',
  'sessionTimeout',
  'keylog',
  'ticketSecret',
  'ticketWindowMs',
  'proxyProtocol',
  'sessionStore',
  'sessionStoreTimeout',
] as const;

/**
 * @internal Copies the fields among `keys` that `source` defines: an option
 * left undefined stays absent, so core applies its own default.
 */
export function pickDefined<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

/** Settings every connection takes, client or server. */
export interface TlsOptions extends Pick<TlsEngineOptions, (typeof ENGINE_FIELDS)[number]> {
  /**
   * A context from `@rxtls/core` (`new TLSServerContext()`, `new TLSClientContext()`, …).
   * When given, `cert`, `key` and `ca` are ignored.
   */
  context?: SSLContext;
  /** Certificate (chain), PEM. Server: required unless `context` is given. Client: a client certificate. */
  cert?: string | Buffer;
  /** Private key of `cert`, PEM. */
  key?: string | Buffer;
  /** Trusted CA certificates, PEM. Client: to verify the server. Server: to verify client certificates. */
  ca?: string | Buffer;
  /**
   * Where the ciphertext flows. `'native'` (the default): the TCP socket
   * lives in the addon and JS sees only plaintext. `'js'`: a `net.Socket`
   * with a TlsEngine over it; it also runs what the native transport does
   * not yet: `verifyClientPostHandshake()`, and (where core refuses them on
   * the native transport with a ConfigError) `handshakeOffload`,
   * `proxyProtocol`, `sessionStore`.
   */
  transport?: Transport;
}

/** @internal The transport `options` ask for: `'native'` unless `'js'` is given. */
export function transportOf(options: { transport?: unknown }): Transport {
  const t = options.transport;
  if (t === undefined || t === 'native') return 'native';
  if (t === 'js') return 'js';
  throw new InvalidArgumentError('Expected "transport" to be \'native\' or \'js\'');
}

/** The remote end of a connection that failed before it was emitted. */
export interface RemoteAddress {
  address: string | undefined;
  port: number | undefined;
}

/**
 * Options of {@link listen}. Besides the socket settings it takes core's
 * server features: `requestCert` (client certificates, checked against
 * `ca`; or `'unverified'`: asked for, any or none accepted, the connection's
 * `authorized` / `authorizationError` tell the application), `alpnProtocols` / `rejectUnknownAlpn`, `sni` / `sniCallback`,
 * `ticketKeys` / `sessionTickets` / `sessionTimeout` (resumption), `keylog`.
 * They are applied to the context, also to a `context` you pass in.
 */
export interface ListenOptions extends TlsOptions, Pick<ServerOptions, Exclude<(typeof SERVER_FIELDS)[number], keyof TlsOptions>> {
  /** Address to bind. Default `127.0.0.1` (loopback only: listen on `0.0.0.0` or `::` on purpose). */
  host?: string;
  /** Port to bind; 0 (the default) picks a free port, reported by `onListening`. */
  port?: number;
  /** Length of the kernel's queue of pending connections. Default 511 (Node's). */
  backlog?: number;
  /** Called once the server is bound, with the address it is bound to (the port 0 picked). */
  onListening?: (address: AddressInfo) => void;
  /**
   * Called when a client fails before it became a connection: a failed or
   * timed-out handshake, bytes that are not TLS, a client that hung up. The
   * `listen` stream goes on; without this option such failures are dropped.
   * The native transport does not report the client's address with such a
   * failure (yet): `remote` then holds undefined.
   */
  onClientError?: (error: TlsError, remote: RemoteAddress) => void;
}

/**
 * Options of {@link connect}. Besides the socket settings it takes core's
 * client features: `servername` (SNI), `alpnProtocols`, `session` (resume
 * the `session` of an earlier connection), `postHandshakeAuth`, `keylog`.
 */
export interface ConnectOptions
  extends TlsOptions,
    Pick<ClientOptions, Exclude<(typeof CLIENT_FIELDS)[number], keyof TlsOptions> | 'keylog'> {
  /** Host to connect to. Default `localhost`. It is also the name the server certificate must match (unless `verifyHost`). */
  host?: string;
  port: number;
}

/** Options of {@link read}. */
export interface ReadOptions {
  /**
   * Treat a transport that closes without close_notify as an ordinary end
   * (complete) instead of an error. Default false: such a stream errors with
   * `TruncationError`, since its data may be incomplete.
   */
  allowTruncation?: boolean;
}
