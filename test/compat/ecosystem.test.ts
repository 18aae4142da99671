// Node ecosystem clients and servers over rxtls: undici's fetch through an
// Agent whose `connect` returns an rxtls socket, and a ws echo on an
// https-style server made with `@rxtls/core/tls` (the client through ws's
// `createConnection`).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import * as rxtls from '@rxtls/core/tls';
import { Agent, fetch } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from 'ws';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const test = suite('ecosystem over rxtls');

/** node's https-style server: an http.Server fed by the rxtls entry point's secure connections. */
async function httpsLike(handler: http.RequestListener): Promise<{ http: http.Server; port: number; close(): Promise<void> }> {
  const httpServer = http.createServer(handler);
  const tlsServer = rxtls.createServer({ key: p.server.key, cert: p.server.cert, ALPNProtocols: ['http/1.1'] }, (s) =>
    httpServer.emit('connection', s),
  );
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  return {
    http: httpServer,
    port: (tlsServer.address() as AddressInfo).port,
    close: async () => {
      httpServer.closeAllConnections();
      await new Promise((resolve) => tlsServer.close(resolve));
    },
  };
}

test('undici fetch through an Agent whose connect returns an rxtls socket', async () => {
  const server = await httpsLike((req, res) => {
    const socket = req.socket as unknown as rxtls.TLSSocket;
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => res.end(`${req.method} ${req.url} ${body} over ${socket.getProtocol()} ${socket.alpnProtocol}`));
  });
  let connections = 0;
  const agent = new Agent({
    connect: (opts, callback) => {
      connections++;
      const socket = rxtls.connect({
        host: '127.0.0.1',
        port: Number(opts.port),
        servername: opts.hostname,
        ca: p.ca.cert,
        ALPNProtocols: ['http/1.1'],
      });
      socket.once('secureConnect', () => callback(null, socket as never));
      socket.once('error', (err) => callback(err, null));
      return socket as never;
    },
  });
  try {
    const url = `https://localhost:${server.port}`;
    const a = await withTimeout(fetch(`${url}/a`, { dispatcher: agent }), 10_000, 'fetch /a');
    assert.is(a.status, 200);
    assert.is(await a.text(), 'GET /a  over TLSv1.3 http/1.1');
    const b = await withTimeout(fetch(`${url}/b`, { method: 'POST', body: 'posted', dispatcher: agent }), 10_000, 'fetch /b');
    assert.is(await b.text(), 'POST /b posted over TLSv1.3 http/1.1');
    assert.ok(connections >= 1, 'the requests went through the rxtls connector');
  } finally {
    await agent.close();
    await server.close();
  }
});

test('undici: a certificate the client does not trust fails the fetch', async () => {
  const server = await httpsLike((_req, res) => res.end('no'));
  const agent = new Agent({
    connect: (opts, callback) => {
      const socket = rxtls.connect({ host: '127.0.0.1', port: Number(opts.port), servername: 'localhost' });
      socket.once('secureConnect', () => callback(null, socket as never));
      socket.once('error', (err) => callback(err, null));
      return socket as never;
    },
  });
  try {
    const err = await withTimeout(
      fetch(`https://localhost:${server.port}/`, { dispatcher: agent }).then(
        () => undefined,
        (e: Error) => e,
      ),
      10_000,
      'fetch',
    );
    assert.ok(err, 'fetch must fail');
    assert.is((err!.cause as { code?: string }).code, 'ERR_TLS_CERT_VERIFY');
  } finally {
    await agent.close();
    await server.close();
  }
});

test('ws echo: WebSocketServer on an https-style rxtls server, client via createConnection', async () => {
  const server = await httpsLike((_req, res) => res.end());
  const wss = new WebSocketServer({ server: server.http });
  wss.on('connection', (ws, req) => {
    const socket = req.socket as unknown as rxtls.TLSSocket;
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo ${data} (${socket.getProtocol()})`, { binary: isBinary }));
  });
  const ws = new WebSocket(`wss://localhost:${server.port}/`, {
    createConnection: () => rxtls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: p.ca.cert }) as never,
  });
  try {
    await withTimeout(new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject))), 10_000, 'ws open');
    const replies: string[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on('message', (data, isBinary) => {
        replies.push(isBinary ? `binary ${(data as Buffer).length}` : String(data));
        if (replies.length === 2) resolve();
      }),
    );
    ws.send('hi');
    ws.send(Buffer.alloc(70_000, 7));
    await withTimeout(got, 10_000, 'ws replies');
    assert.equal(replies, ['echo hi (TLSv1.3)', 'binary 70000']);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(1000);
    assert.is(await withTimeout(closed, 10_000, 'ws close'), 1000);
  } finally {
    ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await server.close();
  }
});

test.run();
