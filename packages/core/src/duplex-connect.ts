// Entry points that give TlsDuplex streams: a client connection, a server
// connection handler, and a server that hands out one stream per secure
// connection. They use the native transport unless given `transport: 'js'`.
import type * as net from 'node:net';

import { connectTls, createTlsServer, type ClientOptions, type ServerOptions } from './connect.js';
import { TlsDuplex } from './duplex.js';
import type { TlsEngine } from './engine.js';
import type { NativeTlsConnection, NativeTlsServer, NativeTransportOptions } from './native-transport.js';
import type { SecureConnection } from './secure-connection.js';

const noop = (): void => {};

/**
 * Connects with `connectTls` and returns the connection as a TlsDuplex,
 * ready for `http.request({ createConnection: () => connectTlsDuplex({...}) })`.
 * Written data waits for the handshake. The native transport unless
 * `transport: 'js'` (a TlsEngine over a net.Socket) is asked for.
 * @throws what `connectTls` throws.
 */
export function connectTlsDuplex(options: ClientOptions & { transport: 'js' }): TlsDuplex<TlsEngine>;
export function connectTlsDuplex(options: ClientOptions & NativeTransportOptions & { transport?: 'native' }): TlsDuplex<NativeTlsConnection>;
export function connectTlsDuplex(options: ClientOptions & NativeTransportOptions): TlsDuplex;
export function connectTlsDuplex(options: ClientOptions & NativeTransportOptions): TlsDuplex {
  if (options.transport === 'js') return new TlsDuplex(connectTls({ ...options, transport: 'js' }));
  return new TlsDuplex(connectTls({ ...options, transport: 'native' }));
}

/**
 * A `createTlsServer` connection handler (either transport) that hands each
 * connection to `listener` as a TlsDuplex once its handshake completed, the
 * moment node's servers expect (node:http2 reads `alpnProtocol` at once).
 * On the JS transport, connections that fail earlier go to `onClientError`
 * (default: dropped); a native server reports those as 'tlsClientError'.
 *
 * node:http2 runs a stream that is not a native socket through its own
 * wrapper, so its `Http2Session` reports `encrypted: false` and
 * `alpnProtocol: 'h2c'`; the TlsDuplex itself has the real values.
 *
 * @example
 * const h2 = http2.createServer();
 * createTlsServer({ cert, key, alpnProtocols: ['h2'], transport: 'native' }, secureDuplexes((d) => h2.emit('connection', d)));
 */
export function secureDuplexes<C extends SecureConnection>(
  listener: (duplex: TlsDuplex<C>) => void,
  onClientError: (error: Error, duplex: TlsDuplex) => void = noop,
): (connection: C) => void {
  return (connection) => {
    const duplex = new TlsDuplex(connection, { onClientError });
    // A native server's connection is secure already: no wait, no event to listen for.
    if (connection.secure) listener(duplex);
    else duplex.once('secure', () => listener(duplex));
  };
}

/**
 * A TLS server that hands each secure connection to `listener` as a
 * TlsDuplex: `http.emit('connection', duplex)` serves HTTPS with node:http.
 * The native transport (a NativeTlsServer) unless `transport: 'js'` (a
 * net.Server). On both, a connection that fails before its handshake
 * completed is reported as the server's 'tlsClientError' `(error)`.
 *
 * @example
 * const app = http.createServer((req, res) => res.end('hello'));
 * createTlsDuplexServer({ cert, key, alpnProtocols: ['http/1.1'] }, (d) => app.emit('connection', d)).listen(8443);
 */
export function createTlsDuplexServer(
  options: ServerOptions & { transport: 'js' },
  listener: (duplex: TlsDuplex<TlsEngine>) => void,
): net.Server;
export function createTlsDuplexServer(
  options: ServerOptions & NativeTransportOptions & { transport?: 'native' },
  listener: (duplex: TlsDuplex<NativeTlsConnection>) => void,
): NativeTlsServer;
export function createTlsDuplexServer(
  options: ServerOptions & NativeTransportOptions,
  listener: (duplex: TlsDuplex) => void,
): net.Server | NativeTlsServer;
export function createTlsDuplexServer(
  options: ServerOptions & NativeTransportOptions,
  listener: ((duplex: TlsDuplex<TlsEngine>) => void) | ((duplex: TlsDuplex<NativeTlsConnection>) => void),
): net.Server | NativeTlsServer {
  if (options.transport === 'js') {
    const server: net.Server = createTlsServer(
      { ...options, transport: 'js' },
      secureDuplexes(listener as (duplex: TlsDuplex<TlsEngine>) => void, (err) => server.emit('tlsClientError', err)),
    );
    return server;
  }
  return createTlsServer({ ...options, transport: 'native' }, secureDuplexes(listener as (duplex: TlsDuplex<NativeTlsConnection>) => void));
}
