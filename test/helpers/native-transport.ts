// The native transport in tests: a server on 127.0.0.1 that keeps every
// connection it made (and every handshake failure), and promise wrappers
// over a connection's handlers.
import {
  connectTls,
  createTlsServer,
  type ClientOptions,
  type NativeTlsConnection,
  type NativeTlsServer,
  type NativeTransportOptions,
  type SecureConnection,
  type ServerOptions,
  type TlsError,
} from '@rxtls/core';

import { withTimeout } from './net.js';

export interface NativeServer {
  server: NativeTlsServer;
  port: number;
  connections: NativeTlsConnection[];
  /** What 'tlsClientError' reported. */
  clientErrors: TlsError[];
  /** Destroys what is still open, closes the server and waits for its 'close'. */
  close(): Promise<void>;
}

/** Starts a native-transport server; by default each connection echoes what it receives. */
export async function startNative(
  options: ServerOptions & NativeTransportOptions,
  onConnection?: (c: NativeTlsConnection) => void,
): Promise<NativeServer> {
  const connections: NativeTlsConnection[] = [];
  const clientErrors: TlsError[] = [];
  let closing = false;
  const server = createTlsServer({ ...options, transport: 'native' }, (c) => {
    connections.push(c);
    // A handshake that completes while the test is closing the server.
    if (closing) return c.destroy();
    if (onConnection) onConnection(c);
    else c.ondata = (d) => c.write(d);
  });
  server.on('tlsClientError', (e: TlsError) => clientErrors.push(e));
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 5_000, 'listen');
  return {
    server,
    port: server.address()!.port,
    connections,
    clientErrors,
    close: () =>
      withTimeout(
        new Promise<void>((resolve) => {
          closing = true;
          for (const c of connections) c.destroy();
          server.close(() => resolve());
        }),
        10_000,
        'server close',
      ),
  };
}

/** Connects on the native transport. */
export function connectNativeTls(options: ClientOptions & NativeTransportOptions): NativeTlsConnection {
  return connectTls({ ...options, transport: 'native' });
}

/** Resolves once secure; rejects with the connection's error. */
export function secure<C extends SecureConnection>(c: C): Promise<C> {
  return withTimeout(
    new Promise<C>((resolve, reject) => {
      if (c.secure) return resolve(c);
      const prevSecure = c.onsecure;
      const prevClose = c.onclose;
      c.onsecure = () => {
        prevSecure?.();
        resolve(c);
      };
      c.onclose = (e) => {
        prevClose?.(e);
        reject(e ?? new Error('closed before secure'));
      };
    }),
    10_000,
    'secure',
  );
}

export interface Outcome {
  data: Buffer;
  /** close_notify arrived. */
  clean: boolean;
  error: TlsError | undefined;
}

/** Collects the plaintext until close. */
export function outcome(c: SecureConnection, ms = 20_000): Promise<Outcome> {
  return withTimeout(
    new Promise<Outcome>((resolve) => {
      const chunks: Buffer[] = [];
      let clean = false;
      c.ondata = (d) => chunks.push(d);
      c.onend = () => (clean = true);
      c.onclose = (error) => resolve({ data: Buffer.concat(chunks), clean, error });
    }),
    ms,
    'close',
  );
}
