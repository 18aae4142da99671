// The rxtls server on the JS transport: createTlsServer({ transport: 'js' }),
// a TlsEngine over a net.Socket per connection (the `[js]` rows, and the
// variants built with rxtlsWith in table.ts).
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
  // node:http over TlsDuplex on this transport: the HTTPS rows' server (duplex.ts).
  if (setup.protocol === 'http' && setup.http === 'node')
    return (await import('./duplex.js')).start({ ...setup, options: { ...setup.options, transport: 'js' } });
  const context = new TLSServerContext();
  context.load_certs(setup.cert, setup.key);
  let open = 0;
  const handshakes: HandshakeCount = { total: 0, resumed: 0 };
  // A variant's options are passed only for that variant, so that this file also runs against a core without them.
  // The transport is named, whatever createTlsServer's default: this handler takes TlsEngines.
  const options = { ...setup.options, context, transport: 'js' } as ServerOptions & { transport: 'js' };
  const server = createTlsServer(options, (engine) => {
    open++;
    engine.onclose = () => open--;
    serve(engine);
    engine.onsecure = () => {
      handshakes.total++;
      if (engine.resumed) handshakes.resumed++;
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
