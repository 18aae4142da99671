// Client and server entry points of the engine: a TLS connection from a
// host and port, and a TLS server that wraps each accepted socket.
import { isIP } from 'node:net';
import * as net from 'node:net';

import { TlsEngine, type TlsEngineOptions } from './engine.js';
import { InvalidArgumentError } from './errors.js';
import { SSLContext, TLSClientContext, TLSServerContext } from './ssl-context.js';

/** Reused by every client socket: the engine copies each chunk into OpenSSL before the next read. */
const sharedReadBuffer = Buffer.allocUnsafe(64 * 1024);

export interface ClientOptions extends Omit<TlsEngineOptions, 'isServer'> {
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
}

export interface ServerOptions extends Omit<TlsEngineOptions, 'isServer' | 'servername' | 'verifyHost' | 'verifyPeer'> {
  /** A server (or generic) context; or give `cert` and `key`. */
  context?: SSLContext;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** CA certificates to verify client certificates with, PEM. */
  ca?: string | Buffer;
}

function checkPort(port: unknown): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('Expected "port" to be an integer from 0 to 65535');
}

/** Builds the context a client uses when none is given. */
export function clientContext(options: Pick<ClientOptions, 'context' | 'ca' | 'cert' | 'key'>): SSLContext {
  if (options.context) return options.context;
  const ctx = new TLSClientContext();
  if (options.ca) ctx.set_verify_locations(options.ca);
  if (options.cert || options.key) {
    if (!options.cert || !options.key) throw new InvalidArgumentError('Expected both "cert" and "key"');
    ctx.load_certs(options.cert, options.key);
  }
  return ctx;
}

/** Builds the context a server uses when none is given. */
export function serverContext(options: Pick<ServerOptions, 'context' | 'ca' | 'cert' | 'key'>): SSLContext {
  if (options.context) return options.context;
  if (!options.cert || !options.key) throw new InvalidArgumentError('Expected a "context", or "cert" and "key"');
  const ctx = new TLSServerContext();
  ctx.load_certs(options.cert, options.key);
  if (options.ca) ctx.set_verify_locations(options.ca);
  return ctx;
}

/**
 * Opens a TCP connection and runs a TLS client over it. The host is sent as
 * SNI (unless it is an IP address) and the server's certificate must match it.
 *
 * @example
 * const engine = connectTls({ host: 'localhost', port: 8443, ca });
 * engine.onsecure = () => engine.write('ping');
 */
export function connectTls(options: ClientOptions): TlsEngine {
  if (typeof options.host !== 'string' || options.host.length === 0)
    throw new InvalidArgumentError('Expected "host" to be a non-empty string');
  checkPort(options.port);
  const context = clientContext(options);
  let engine: TlsEngine | undefined;
  const socket = net.connect({
    host: options.host,
    port: options.port,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    noDelay: true,
    onread: { buffer: sharedReadBuffer, callback: (n: number, buf: Uint8Array) => {
      engine?.feed(buf as Buffer, n);
      return true;
    } },
  });
  const servername = options.servername ?? (isIP(options.host) ? undefined : options.host);
  engine = new TlsEngine(
    socket,
    context,
    {
      ...options,
      isServer: false,
      ...(servername !== undefined ? { servername } : {}),
      verifyHost: options.verifyHost ?? options.host,
      ...(options.rejectUnauthorized !== undefined && options.verifyPeer === undefined
        ? { verifyPeer: options.rejectUnauthorized }
        : {}),
    },
    false,
  );
  return engine;
}

/**
 * A TCP server that runs a TLS server engine on each accepted socket and
 * hands it to `onConnection` at once (attach handlers there; `onsecure`
 * fires when the handshake is done).
 *
 * @example
 * const server = createTlsServer({ cert, key }, (engine) => {
 *   engine.ondata = (chunk) => engine.write(chunk);
 * });
 * server.listen(8443, '127.0.0.1');
 */
export function createTlsServer(options: ServerOptions, onConnection: (engine: TlsEngine) => void): net.Server {
  const context = serverContext(options);
  const engineOptions: TlsEngineOptions = { ...options, isServer: true };
  return net.createServer({ noDelay: true }, (socket) => {
    let engine: TlsEngine;
    try {
      engine = new TlsEngine(socket, context, engineOptions);
    } catch {
      // The context was freed under a running server: refuse the connection.
      socket.destroy();
      return;
    }
    onConnection(engine);
  });
}
