// The rxtls engine server: createTlsServer (TlsEngine per connection).
import { createTlsServer, TLSServerContext, type ServerOptions, type TlsEngine } from '@rxtls/core';

import { MinimalHttp, StreamProtocol, type Sink } from '../lib/protocols.js';
import { closeServer, listenLoopback, type BenchServer, type HandshakeCount, type ServerSetup } from './types.js';

function sinkOf(engine: TlsEngine): Sink {
  return {
    write: (d) => engine.write(d),
    onceDrain: (fn) => engine.socket.once('drain', fn),
    end: () => engine.end(),
  };
}

export async function start(setup: ServerSetup): Promise<BenchServer> {
  // node:http over TlsDuplex, on the native transport: the HTTPS rows' server (duplex.ts).
  if (setup.protocol === 'http' && setup.http === 'node') return (await import('./duplex.js')).start(setup);
  const context = new TLSServerContext();
  context.load_certs(setup.cert, setup.key);
  let open = 0;
  const handshakes: HandshakeCount = { total: 0, resumed: 0 };
  // A variant's options are passed only for that variant, so that this file also runs against a core without them.
  const options = { ...setup.options, context } as ServerOptions;
  const server = createTlsServer(options, (engine) => {
    open++;
    engine.onclose = () => open--;
    serve(engine);
    engine.onsecure = () => {
      handshakes.total++;
      if (engine.info().resumed) handshakes.resumed++;
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
