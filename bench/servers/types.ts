// What every bench server engine provides to bench/server.ts.

export type Protocol = 'echo' | 'stream' | 'http';
export const PROTOCOLS: readonly Protocol[] = ['echo', 'stream', 'http'];

/** How HTTP is served: node:http (over the engine) or the shared minimal responder. */
export type HttpImpl = 'node' | 'minimal';

export interface ServerSetup {
  protocol: Protocol;
  http: HttpImpl;
  /** rxtls: extra createTlsServer options of a variant (`handshakeOffload`, a transport, …). */
  options?: Record<string, unknown>;
  /** PEM certificate and key (ignored by plain TCP). */
  cert: string;
  key: string;
}

export interface BenchServer {
  port: number;
  /** Connections open now. */
  connections(): number;
  /** TLS handshakes completed so far, and how many of them resumed a session (where the server can tell). */
  handshakes?(): HandshakeCount;
  close(): Promise<void>;
}

export interface HandshakeCount {
  total: number;
  resumed: number;
}

export type StartServer = (setup: ServerSetup) => Promise<BenchServer>;

/** Listens on an ephemeral loopback port and resolves with it. */
export function listenLoopback(server: import('node:net').Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // A deep backlog: the handshake flood opens 50 connections at once, the memory scenario thousands.
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

export function closeServer(server: import('node:net').Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Established connections would hold close() open: the harness is done with them.
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}
