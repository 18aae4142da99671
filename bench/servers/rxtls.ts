// The rxtls engine server: createTlsServer (TlsEngine per connection).
import { createTlsServer, TLSServerContext, type ServerOptions, type TlsEngine } from '@rxtls/core';

import { MinimalHttp, StreamProtocol, type Sink } from '../lib/protocols.js';
import { findDuplexAdapter } from './duplex.js';
import { closeServer, listenLoopback, type BenchServer, type HandshakeCount, type ServerSetup } from './types.js';

function sinkOf(engine: TlsEngine): Sink {
  return {
    write: (d) => engine.write(d),
    onceDrain: (fn) => engine.socket.once('drain', fn),
    end: () => engine.end(),
  };
}

export async function start(setup: ServerSetup): Promise<BenchServer> {
  const context = new TLSServerContext();
  context.load_certs(setup.cert, setup.key);
  let open = 0;
  const handshakes: HandshakeCount = { total: 0, resumed: 0 };
  let onHttp: ((engine: TlsEngine) => void) | undefined;
  if (setup.protocol === 'http' && setup.http === 'node') {
    const adapter = await findDuplexAdapter();
    if (!adapter) throw new Error('@rxtls/core has no stream.Duplex adapter yet: serve HTTP with --http minimal');
    const http = await import('node:http');
    const { HELLO_BODY } = await import('../lib/protocols.js');
    const httpServer = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(HELLO_BODY);
    });
    onHttp = (engine) => httpServer.emit('connection', adapter(engine));
  }
  // A variant's options are passed only for that variant, so that this file also runs against a core without them.
  const options = { ...setup.options, context, transport: 'js' } as ServerOptions & { transport: 'js' };
  const server = createTlsServer(options, (engine) => {
    open++;
    engine.onclose = () => open--;
    if (onHttp) onHttp(engine);
    else serve(engine);
    // Counted after the handlers are set, keeping any onsecure they (the Duplex adapter) installed.
    const secure = engine.onsecure;
    engine.onsecure = () => {
      handshakes.total++;
      if (engine.info().resumed) handshakes.resumed++;
      secure?.();
    };
  });
  function serve(engine: TlsEngine): void {
    switch (setup.protocol) {
      case 'echo':
        engine.ondata = (chunk) => engine.write(chunk);
        break;
      case 'stream': {
        const p = new StreamProtocol(sinkOf(engine));
        engine.ondata = (chunk) => p.push(chunk);
        break;
      }
      case 'http': {
        const p = new MinimalHttp(sinkOf(engine));
        engine.ondata = (chunk) => p.push(chunk);
        break;
      }
    }
  }
  const port = await listenLoopback(server);
  return {
    port,
    connections: () => open,
    handshakes: () => handshakes,
    close: () => closeServer(server),
  };
}
