// Both transports in one test body: the TRANSPORTS list, a per-transport
// test registration, and a server whose handler sees each connection at the
// same moment on both (once secure; on JS the engine exists from accept).
import type { AddressInfo, Server } from 'node:net';

import {
  connectTls,
  createTlsServer,
  type ClientOptions,
  type NativeTlsServer,
  type NativeTransportOptions,
  type SecureConnection,
  type ServerOptions,
  type TlsError,
  type Transport,
} from '@rxtls/core';
import type { Callback, Test } from 'uvu';

/** Every transport, the default (native) first. */
export const TRANSPORTS: ReadonlyArray<Transport> = ['native', 'js'];

/** What `createTlsServer` returns on either transport. */
export type TlsServer = Server | NativeTlsServer;

/** Registers `body` once per transport, titled `title [transport]`; it gets the transport and uvu's context. */
export function eachTransport<T>(
  register: Test<T>,
  title: string,
  body: (transport: Transport, context: Parameters<Callback<T>>[0]) => Promise<void> | void,
  transports: ReadonlyArray<Transport> = TRANSPORTS,
): void {
  for (const t of transports) register(`${title} [${t}]`, (context) => body(t, context));
}

/**
 * `createTlsServer` on `transport`, with `onSecure` called once each
 * connection is secure on both: natively that is when the handler runs; on
 * JS the engine's `onsecure` calls it (and an `onsecure` the handler sets
 * fires right after, as on native). Handshake failures go to `onClientError`
 * (native: 'tlsClientError'; JS: the engine's error before it was secure).
 */
export function createSecureServer(
  transport: Transport,
  options: ServerOptions & NativeTransportOptions,
  onSecure: (connection: SecureConnection) => void,
  onClientError?: (error: TlsError) => void,
): TlsServer {
  if (transport === 'native') {
    const server = createTlsServer({ ...options, transport: 'native' }, onSecure);
    if (onClientError) server.on('tlsClientError', onClientError);
    return server;
  }
  return createTlsServer({ ...options, transport: 'js' }, (engine) => {
    let handed = false;
    engine.onsecure = () => {
      handed = true;
      engine.onsecure = undefined;
      onSecure(engine);
      (engine.onsecure as (() => void) | undefined)?.(); // one the handler set
    };
    // Replaced by the handler's own once secure.
    engine.onerror = (err) => {
      if (!handed) onClientError?.(err);
    };
  });
}

/** `connectTls` on `transport`. */
export function connectOn(transport: Transport, options: ClientOptions & NativeTransportOptions): SecureConnection {
  return connectTls({ ...options, transport });
}

/** Listens on 127.0.0.1, an ephemeral port; resolves with the port. */
export async function listenLocal(server: TlsServer): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** Closes the server; resolves once its connections are gone. */
export const closeServer = (server: TlsServer) => new Promise<void>((r) => server.close(() => r()));
