// A running rxtls server for the TLS feature tests, stopped by the test.
import type { AddressInfo, Server } from 'node:net';

import { createTlsServer, type ServerOptions, type TlsEngine } from '@rxtls/core';

export interface RunningServer {
  port: number;
  server: Server;
  /** Every engine the server made, in order. */
  engines: TlsEngine[];
  /** Errors the server's engines reported. */
  errors: Error[];
  close(): Promise<void>;
}

/**
 * Starts `createTlsServer` on 127.0.0.1. By default each connection answers
 * `hello <alpn> <servername>\n` once secure and echoes what it receives.
 */
export async function startServer(options: ServerOptions, onConnection?: (engine: TlsEngine) => void): Promise<RunningServer> {
  const engines: TlsEngine[] = [];
  const errors: Error[] = [];
  const server = createTlsServer(options, (engine) => {
    engines.push(engine);
    engine.onerror = (err) => errors.push(err);
    if (onConnection) return onConnection(engine);
    engine.onsecure = () => {
      const info = engine.info();
      engine.write(`hello ${info.alpnProtocol ?? '-'} ${info.servername ?? '-'} ${info.resumed ? 'resumed' : 'full'}\n`);
    };
    engine.ondata = (d) => engine.write(d);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
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
