// The rxtls server on the native transport (the bench's rxtls column):
// createTlsServer({ transport: 'native' }), the TCP socket in the addon
// (NativeTlsConnection). The same protocol handlers as the JS-transport
// server (rxtls.ts, the [js] rows); the connection handler runs once the
// handshake is done, so handshakes are counted there.
import { createTlsServer, TLSServerContext, type NativeTlsConnection } from '@rxtls/core';

import { MinimalHttp, StreamProtocol, type Sink } from '../lib/protocols.js';
import type { BenchServer, HandshakeCount, ServerSetup } from './types.js';

function sinkOf(conn: NativeTlsConnection): Sink {
  return {
    write: (d) => conn.write(d),
    // One slot, not an event: each wait installs itself and clears itself when it fires.
    onceDrain: (fn) => {
      conn.ondrain = () => {
        conn.ondrain = undefined;
        fn();
      };
    },
    end: () => conn.end(),
  };
}

function serve(conn: NativeTlsConnection, setup: ServerSetup): void {
  switch (setup.protocol) {
    case 'echo':
      conn.ondata = (chunk) => conn.write(chunk);
      break;
    case 'stream': {
      const p = new StreamProtocol(sinkOf(conn));
      conn.ondata = (chunk) => p.push(chunk);
      break;
    }
    case 'http': {
      const p = new MinimalHttp(sinkOf(conn));
      conn.ondata = (chunk) => p.push(chunk);
      break;
    }
  }
}

export async function start(setup: ServerSetup): Promise<BenchServer> {
  // node:http over TlsDuplex (duplex.ts, on this transport too).
  if (setup.protocol === 'http' && setup.http === 'node') return (await import('./duplex.js')).start({ ...setup, options: { ...setup.options, transport: 'native' } });
  const context = new TLSServerContext();
  context.load_certs(setup.cert, setup.key);
  const open = new Set<NativeTlsConnection>();
  const handshakes: HandshakeCount = { total: 0, resumed: 0 };
  const server = createTlsServer({ ...setup.options, context, transport: 'native' }, (conn) => {
    open.add(conn);
    handshakes.total++;
    if (conn.resumed) handshakes.resumed++;
    conn.onclose = () => open.delete(conn);
    serve(conn, setup);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    // A deep backlog, as listenLoopback: the handshake flood opens 50 connections at once, the memory scenario thousands.
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve(server.address()!.port);
    });
  });
  return {
    port,
    connections: () => open.size,
    handshakes: () => handshakes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // 'close' waits for every connection, as net.Server: the harness is done with them.
        for (const c of open) c.destroy();
      }),
  };
}
