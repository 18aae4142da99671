// Options of the rx factories. Kept in one file so listen() and connect()
// share the context and timeout settings word for word.
import type { AddressInfo } from 'node:net';

import type { SSLContext, TlsError } from '@rxtls/core';

/** Settings every connection takes, client or server. */
export interface TlsOptions {
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
  /** Milliseconds the TLS handshake may take. Default 10 000; 0 disables. */
  handshakeTimeout?: number;
  /**
   * Milliseconds a connection may stay without socket activity after its
   * handshake (nothing read, nothing written) before it is destroyed with a
   * `TimeoutError`. Default 0: no idle timeout.
   */
  idleTimeout?: number;
}

/** The remote end of a connection that failed before it was emitted. */
export interface RemoteAddress {
  address: string | undefined;
  port: number | undefined;
}

/** Options of {@link listen}. */
export interface ListenOptions extends TlsOptions {
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
   */
  onClientError?: (error: TlsError, remote: RemoteAddress) => void;
}

/** Options of {@link connect}. */
export interface ConnectOptions extends TlsOptions {
  /** Host to connect to. Default `localhost`. It is also the name the server certificate must match. */
  host?: string;
  port: number;
  /** SNI to send (default: `host`, unless it is an IP address). */
  servername?: string;
  /** The name (or IP) the server certificate must match. Default: `host`. */
  verifyHost?: string;
  /** False accepts any server certificate. Default true. Prefer `ca`. */
  rejectUnauthorized?: boolean;
  /** Local address to bind the client socket to. */
  localAddress?: string;
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
