// The node:tls reference server (node:https for HTTP over node:http).
import * as https from 'node:https';
import * as tls from 'node:tls';

import { HELLO_BODY, MinimalHttp, StreamProtocol, type Sink } from '../lib/protocols.js';
import { closeServer, listenLoopback, type BenchServer, type HandshakeCount, type ServerSetup } from './types.js';

function sinkOf(socket: tls.TLSSocket): Sink {
  return {
    write: (d) => socket.write(d),
    onceDrain: (fn) => socket.once('drain', fn),
    end: () => socket.end(),
  };
}

export async function start(setup: ServerSetup): Promise<BenchServer> {
  let open = 0;
  const handshakes: HandshakeCount = { total: 0, resumed: 0 };
  // Called from the secure-connection handler each server already has (no extra listener).
  const counted = (socket: tls.TLSSocket) => {
    open++;
    handshakes.total++;
    if (socket.isSessionReused()) handshakes.resumed++;
  };
  const options: tls.TlsOptions = { cert: setup.cert, key: setup.key };
  let server: tls.Server;
  if (setup.protocol === 'http' && setup.http === 'node') {
    server = https.createServer(options, (_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(HELLO_BODY);
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      counted(socket);
      socket.once('close', () => open--);
    });
  } else {
    server = tls.createServer(options, (socket) => {
      counted(socket);
      socket.setNoDelay(true);
      socket.once('close', () => open--);
      // Errors (a client that resets) must not crash the server.
      socket.on('error', () => {});
      switch (setup.protocol) {
        case 'echo':
          socket.on('data', (chunk: Buffer) => socket.write(chunk));
          break;
        case 'stream': {
          const p = new StreamProtocol(sinkOf(socket));
          socket.on('data', (chunk: Buffer) => p.push(chunk));
          break;
        }
        case 'http': {
          const p = new MinimalHttp(sinkOf(socket));
          socket.on('data', (chunk: Buffer) => p.push(chunk));
          break;
        }
      }
    });
  }
  server.on('tlsClientError', () => {});
  const port = await listenLoopback(server);
  return { port, connections: () => open, handshakes: () => handshakes, close: () => closeServer(server) };
}
