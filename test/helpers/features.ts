// A running rxtls server for the TLS feature tests, stopped by the test.
import { createTlsServer, type NativeTransportOptions, type SecureConnection, type ServerOptions } from '@rxtls/core';

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
        server.close(() => resolve());
      }),
  };
}
