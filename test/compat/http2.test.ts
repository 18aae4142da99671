// node:http2 over rxtls: a TlsDuplex reports `alpnProtocol` as node:tls does
// (false until the handshake, the protocol after), and `secureDuplexes`
// hands connections to an http2 server only once secure. Peers: curl
// --http2 (nghttp2) and http2.connect over an rxtls connection.
import { execFile } from 'node:child_process';
import * as http2 from 'node:http2';
import type { AddressInfo, Server } from 'node:net';

import { connectTlsDuplex, createTlsServer, secureDuplexes, TlsDuplex } from '@rxtls/core';
import * as rxtls from '@rxtls/core/tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const test = suite('http2 over rxtls');

/** An http2 server answering each stream with its path. */
function h2Server(): http2.Http2Server {
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`path=${headers[':path']}\n`);
  });
  return h2;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function closeAll(h2: http2.Http2Server, server: Server): Promise<void> {
  h2.close();
  await new Promise((resolve) => server.close(resolve));
}

function curl(port: number, path: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['--silent', '--show-error', '--max-time', '15', '--http2', '--cacert', p.file('ca', 'crt'), '-w', 'version=%{http_version}\n',
        '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}${path}`],
      // curl is the peer, not under test: no sanitizer runtime preloaded into it (scripts/asan.sh).
      { encoding: 'utf8', timeout: 20_000, env: { ...process.env, LD_PRELOAD: '' } },
      (err, stdout, stderr) => (err ? reject(new Error(`curl failed: ${stderr || err.message}`)) : resolve({ stdout, stderr })),
    );
  });
}

/** GET `path` over a ClientHttp2Session; resolves with the body. */
function h2Get(session: http2.ClientHttp2Session, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve(body));
    req.on('error', reject);
    req.end();
  });
}

test('TlsDuplex.alpnProtocol: false before the handshake, the protocol after, kept after close', async () => {
  let seen: Array<string | false> = [];
  const server = createTlsServer({ transport: 'js', ...p.server, alpnProtocols: ['h2'] }, (engine) => {
    const d = new TlsDuplex(engine);
    seen.push(d.alpnProtocol);
    d.once('secure', () => seen.push(d.alpnProtocol));
    d.on('close', () => seen.push(d.alpnProtocol));
    d.resume();
  });
  const port = await listen(server);
  const client = connectTlsDuplex({ host: 'localhost', port, ca: p.ca.cert, alpnProtocols: ['h2'] });
  await withTimeout(new Promise((r) => client.once('secureConnect', r)), 10_000, 'handshake');
  assert.is(client.alpnProtocol, 'h2');
  client.resume();
  client.end();
  await withTimeout(new Promise((r) => client.on('close', r)), 10_000, 'client close');
  await withTimeout(new Promise<void>((r) => (seen.length === 3 ? r() : server.once('close', () => r()), server.close())), 10_000, 'server close');
  assert.equal(seen, [false, 'h2', 'h2']);
  assert.is(client.alpnProtocol, 'h2');
});

test('curl --http2 and http2.connect against http2.createServer() fed by secureDuplexes', async () => {
  const h2 = h2Server();
  const handedOver: Array<string | false> = [];
  const server = createTlsServer(
    { transport: 'js', ...p.server, alpnProtocols: ['h2'] },
    secureDuplexes((d) => (handedOver.push(d.alpnProtocol), h2.emit('connection', d))),
  );
  const port = await listen(server);
  try {
    const { stdout } = await curl(port, '/curl');
    // curl speaks HTTP/2 over TLS only when ALPN chose h2.
    assert.is(stdout, 'path=/curl\nversion=2\n');
    const session = http2.connect(`https://localhost:${port}`, {
      createConnection: () => connectTlsDuplex({ host: '127.0.0.1', port, servername: 'localhost', ca: p.ca.cert, alpnProtocols: ['h2'] }),
    });
    try {
      assert.is(await withTimeout(h2Get(session, '/one'), 10_000, 'h2 /one'), 'path=/one\n');
      assert.is(await withTimeout(h2Get(session, '/two'), 10_000, 'h2 /two'), 'path=/two\n');
    } finally {
      session.close();
    }
    assert.equal(handedOver, ['h2', 'h2']);
  } finally {
    await closeAll(h2, server);
  }
});

test('through @rxtls/core/tls: createServer feeding http2, and connect as createConnection', async () => {
  const h2 = h2Server();
  const server = rxtls.createServer({ key: p.server.key, cert: p.server.cert, ALPNProtocols: ['h2'] }, (s) => h2.emit('connection', s));
  const port = await listen(server);
  try {
    assert.is((await curl(port, '/entry')).stdout, 'path=/entry\nversion=2\n');
    const session = http2.connect(`https://localhost:${port}`, {
      createConnection: () => rxtls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: p.ca.cert, ALPNProtocols: ['h2'] }),
    });
    try {
      assert.is(await withTimeout(h2Get(session, '/x'), 10_000, 'h2 /x'), 'path=/x\n');
    } finally {
      session.close();
    }
  } finally {
    await closeAll(h2, server);
  }
});

test.run();
