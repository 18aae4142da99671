// node:http over TlsDuplex: the bench's HTTPS server with node:http, the
// issue's target against node:https (per server CPU-s). It runs on the native
// transport (createTlsDuplexServer's default); a variant's options may ask
// for `transport: 'js'`.
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';

import type { SecureConnection, ServerOptions, TlsDuplex } from '@rxtls/core';

import type { BenchServer, HandshakeCount, ServerSetup } from './types.js';

export type DuplexAdapter = (connection: SecureConnection) => Duplex;

/** TlsDuplex as a function of a connection, or null for a core that has none (the HTTPS scenario then runs the minimal responder). */
export async function findDuplexAdapter(): Promise<DuplexAdapter | null> {
  const core = (await import('@rxtls/core')) as Record<string, unknown>;
  const cls = core['TlsDuplex'];
  if (typeof cls === 'function') return (connection) => new (cls as new (c: SecureConnection) => Duplex)(connection);
  return null;
}

/** What both transports' servers (net.Server, NativeTlsServer) have for listening and closing. */
interface Listening {
  listen(options: { port: number; host: string; backlog: number }, listener: () => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
  address(): unknown;
  close(callback: () => void): unknown;
}

/** node:http answering every request with HELLO_BODY, fed one TlsDuplex per secure connection. */
export async function start(setup: ServerSetup): Promise<BenchServer> {
  const core = await import('@rxtls/core');
  const { createServer } = await import('node:http');
  const { HELLO_BODY } = await import('../lib/protocols.js');
  const httpServer: http.Server = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(HELLO_BODY);
  });
  const context = new core.TLSServerContext();
  context.load_certs(setup.cert, setup.key);
  const open = new Set<Duplex>();
  const handshakes: HandshakeCount = { total: 0, resumed: 0 };
  const onDuplex = (duplex: TlsDuplex) => {
    open.add(duplex);
    handshakes.total++;
    if (duplex.isSessionReused()) handshakes.resumed++;
    duplex.once('close', () => open.delete(duplex));
    httpServer.emit('connection', duplex);
  };
  const transport = setup.options?.['transport'] === 'js' ? 'js' : 'native';
  const server: Listening = core.createTlsDuplexServer({ ...setup.options, context, transport } as ServerOptions, onDuplex);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
  return {
    port,
    connections: () => open.size,
    handshakes: () => handshakes,
    close: async () => {
      httpServer.closeAllConnections();
      for (const d of open) d.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
