// A running rxtls server for the TLS feature tests, stopped by the test.
import type { NativeTransportOptions, SecureConnection, ServerOptions } from '@rxtls/core';

import { createSecureServer, listenLocal, type TlsServer } from './transports.js';

export interface RunningServer {
  port: number;
  server: TlsServer;
  /** Every connection that became secure, in order. */
  engines: SecureConnection[];
  /** Errors the server's connections reported, handshake failures included. */
  errors: Error[];
  close(): Promise<void>;
}

/**
 * Starts `createTlsServer` on 127.0.0.1, on `options.transport` (default
 * native). `onConnection` sees each connection once secure, on both
 * transports (an `onsecure` it sets fires right after). By default each
 * connection answers `hello <alpn> <servername> <full|resumed>\n` and echoes
 * what it receives.
 */
export async function startServer(
  options: ServerOptions & NativeTransportOptions,
  onConnection?: (engine: SecureConnection) => void,
): Promise<RunningServer> {
  const engines: SecureConnection[] = [];
  const errors: Error[] = [];
  const server = createSecureServer(
    options.transport ?? 'native',
    options,
    (engine) => {
      engines.push(engine);
      engine.onerror = (err) => errors.push(err);
      if (onConnection) return onConnection(engine);
      const info = engine.info();
      engine.write(`hello ${info.alpnProtocol ?? '-'} ${info.servername ?? '-'} ${info.resumed ? 'resumed' : 'full'}\n`);
      engine.ondata = (d) => engine.write(d);
    },
    (err) => errors.push(err),
  );
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
