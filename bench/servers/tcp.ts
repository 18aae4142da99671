// Plain TCP (node:net, node:http): the ceiling rxtls's transport can reach.
import * as http from 'node:http';
import * as net from 'node:net';

import { HELLO_BODY, MinimalHttp, StreamProtocol, type Sink } from '../lib/protocols.js';
import { closeServer, listenLoopback, type BenchServer, type ServerSetup } from './types.js';

function sinkOf(socket: net.Socket): Sink {
  return {
    write: (d) => socket.write(d),
    onceDrain: (fn) => socket.once('drain', fn),
    end: () => socket.end(),
  };
}

export async function start(setup: ServerSetup): Promise<BenchServer> {
  let open = 0;
  let server: net.Server;
  if (setup.protocol === 'http' && setup.http === 'node') {
    server = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(HELLO_BODY);
    });
    server.on('connection', (socket: net.Socket) => {
      open++;
      socket.once('close', () => open--);
    });
  } else {
    server = net.createServer({ noDelay: true }, (socket) => {
      open++;
      socket.once('close', () => open--);
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
  const port = await listenLoopback(server);
  return { port, connections: () => open, close: () => closeServer(server) };
}
