// N worker processes on one port, each a full rxtls echo server.
//   PORT=8443 WORKERS=2 node --import tsx examples/cluster.ts
// Environment: PORT (default 8443; 0 picks one), WORKERS (default 2), HOST
// (default 127.0.0.1), CERT/KEY (PEM files; default: a self-signed
// certificate for localhost made at start and shared by the workers),
// TICKET_SECRET (hex, 32+ bytes; default random: every worker derives the
// same rotating ticket keys from it, so each resumes the others' tickets).
//
// Default: the native transport, each worker binding its own listener with
// SO_REUSEPORT; the kernel spreads the connections over them.
// PROXY=1: every connection must start with a PROXY protocol header (v1 or
// v2) from 127.0.0.1 (HAProxy's send-proxy-v2); the first line a client sends
// is answered with `from <client address>:<port>` before the echo. The
// native listener hands the first bytes straight to OpenSSL, so PROXY=1 runs
// the JS transport, where node:cluster shares one listening socket among the
// workers instead of SO_REUSEPORT.
//
// Prints `listening <port>` once every worker is up; SIGTERM (or Ctrl-C)
// stops accepting and gives open connections 5 s before the workers exit.
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';

import {
  createSelfSignedCertificate,
  createTlsServer,
  runWorkers,
  serveWorker,
  workerTicketSecret,
  type NativeTlsConnection,
  type NativeTlsServer,
  type TlsEngine,
} from '@rxtls/core';

const proxy = process.env.PROXY === '1';

if (cluster.isPrimary) {
  // PORT=0: one free port for all (each reusePort listener would pick its own).
  let port = Number(process.env.PORT ?? 8443);
  if (port === 0) port = await freePort();
  const workers = Number(process.env.WORKERS ?? 2);
  const { cert, key } =
    process.env.CERT && process.env.KEY
      ? { cert: readFileSync(process.env.CERT, 'utf8'), key: readFileSync(process.env.KEY, 'utf8') }
      : createSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const fleet = runWorkers({
    workers,
    ticketSecret: process.env.TICKET_SECRET ?? randomBytes(32).toString('hex'),
    graceMs: 5000,
    env: { EXAMPLE_CERT: cert, EXAMPLE_KEY: key, PORT: String(port) },
    onListening: (port) => console.log(`listening ${port}`),
    onWorkerExit: (pid, code, signal, restarted) => {
      if (restarted) console.error(`worker ${pid} died (${signal ?? code}), starting another`);
    },
  });
  fleet.ready.catch((err: Error) => {
    console.error(err.message);
    process.exitCode = 1;
  });
} else {
  const options = {
    cert: process.env.EXAMPLE_CERT!,
    key: process.env.EXAMPLE_KEY!,
    ticketSecret: workerTicketSecret(),
  };
  const port = Number(process.env.PORT ?? 8443);
  const host = process.env.HOST ?? '127.0.0.1';
  // Answers the first line with where the client is, then echoes.
  const echo = (c: NativeTlsConnection | TlsEngine, from: () => string) => {
    let first = true;
    c.ondata = (chunk) => {
      if (first && chunk.includes(10)) {
        first = false;
        c.write(`from ${from()}\n`);
      }
      c.write(chunk);
    };
    c.onend = () => c.end();
    c.onerror = () => undefined; // a client that vanished: nothing to do
  };
  let server: NativeTlsServer | Server;
  if (proxy) {
    server = createTlsServer({ ...options, transport: 'js', proxyProtocol: { trusted: ['127.0.0.1'] } }, (e) =>
      echo(e, () => `${e.socket.remoteAddress}:${e.socket.remotePort}`),
    );
  } else {
    server = createTlsServer({ ...options, reusePort: true }, (c) =>
      echo(c, () => `${c.remoteAddress}:${c.remotePort}`),
    );
  }
  server.on('error', (err: Error) => {
    console.error(`worker ${process.pid}: ${err.message}`);
    process.exit(1);
  });
  server.listen(port, host);
  serveWorker(server);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
