// A running rxtls server for the TLS feature tests, stopped by the test.
import type { EventEmitter } from 'node:events';

import {
  createTlsServer,
  NativeTlsServer,
  TlsEngine,
  type NativeTlsConnection,
  type NativeTransportOptions,
  type SecureConnection,
  type ServerOptions,
  type Transport,
} from '@rxtls/core';

import { listenLocal, type TlsServer } from './transports.js';

export interface RunningServer {
  port: number;
  server: TlsServer;
  /** Every connection the server handed over, in order (JS: from accept; native: once secure). */
  engines: SecureConnection[];
  /** Errors the server's connections reported, handshake failures included. */
  errors: Error[];
  close(): Promise<void>;
}

/**
 * Starts `createTlsServer` on 127.0.0.1, on `options.transport` (default
 * native). `onConnection` gets each connection as the transport hands it
 * over (JS: at accept; native: once secure, `onsecure` firing right after),
 * so handlers set there, `onsecure` included, run on both. By default each
 * connection answers `hello <alpn> <servername> <full|resumed>\n` once
 * secure and echoes what it receives.
 */
export async function startServer(
  options: ServerOptions & NativeTransportOptions,
  onConnection?: (engine: SecureConnection) => void,
): Promise<RunningServer> {
  const engines: SecureConnection[] = [];
  const errors: Error[] = [];
  const server = createTlsServer(options, (engine: SecureConnection) => {
    engines.push(engine);
    engine.onerror = (err) => errors.push(err);
    if (onConnection) return onConnection(engine);
    engine.onsecure = () => {
      const info = engine.info();
      engine.write(`hello ${info.alpnProtocol ?? '-'} ${info.servername ?? '-'} ${info.resumed ? 'resumed' : 'full'}\n`);
    };
    engine.ondata = (d) => engine.write(d);
  });
  // Native: a failed handshake never reaches the handler.
  if (options.transport !== 'js') server.on('tlsClientError', (err: Error) => errors.push(err));
  const port = await listenLocal(server);
  return {
    port,
    server,
    engines,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const e of engines) e.destroy();
        // Native: handshakes still under way (a store lookup, a PROXY header) are closed too.
        if (server instanceof NativeTlsServer) void server.shutdown(0).then(() => resolve());
        else server.close(() => resolve());
      }),
  };
}

/** A server-side connection of either transport. */
export type ServerConnection = TlsEngine | NativeTlsConnection;

export interface RunningServerOn {
  port: number;
  /** A net.Server (js) or a NativeTlsServer (native): 'tlsClientError' on either. */
  server: EventEmitter;
  transport: Transport;
  /** Every connection the server handed out, in order. */
  engines: ServerConnection[];
  /** Errors its connections reported, and (native) handshakes that failed before a connection was handed out. */
  errors: Error[];
  close(): Promise<void>;
}

/** The client's address as a server-side connection reports it, on either transport. */
export function remoteOf(c: ServerConnection): { address?: string; port?: number; family?: string } {
  const s = c instanceof TlsEngine ? c.socket : c;
  return { address: s.remoteAddress, port: s.remotePort, family: s.remoteFamily };
}

/**
 * `startServer` on `transport`: the same defaults and reports. On the native
 * transport a connection is handed out once secure, so a handshake failure
 * lands in `errors` through 'tlsClientError', where the JS transport's engine
 * reports it itself.
 */
export async function startServerOn(
  transport: Transport,
  options: ServerOptions,
  onConnection?: (c: ServerConnection) => void,
): Promise<RunningServerOn> {
  const s = await startServer({ ...options, transport }, onConnection as ((c: SecureConnection) => void) | undefined);
  return { ...s, transport, engines: s.engines as ServerConnection[] };
}
