// HTTPS on node:http through the TlsDuplex adapter, on both transports: an
// http.Server fed by createTlsDuplexServer serves curl, node:https and
// undici (keep-alive and a connection per request, 4 MiB both ways with
// hashes, its keep-alive timeout through the duplex's setTimeout);
// http.request with `createConnection: connectTlsDuplex` sends HTTPS to
// node:https and to rxtls.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { connectTlsDuplex, createTlsDuplexServer, type TlsDuplex, type Transport } from '@rxtls/core';
import { Agent, fetch } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const big = randomBytes(4 << 20);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const bodyFile = join(p.dir, 'big.bin');
writeFileSync(bodyFile, big);

/** Answers GET / with a greeting, GET /big with 4 MiB, GET /who with the socket's view, POST with the SHA-256 of the body. */
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const tls = req.socket as unknown as TlsDuplex;
    if (req.method === 'POST') return void res.end(sha(Buffer.concat(chunks)));
    if (req.url === '/big') return void res.end(big);
    if (req.url === '/who') {
      const local = tls.address() as AddressInfo;
      return void res.end(`${tls.remoteAddress} ${tls.remoteFamily} ${local.address}:${local.port}=${tls.localAddress}:${tls.localPort}`);
    }
    res.end(`hello over ${tls.getProtocol?.() ?? 'plain'} alpn=${tls.alpnProtocol} encrypted=${tls.encrypted}\n`);
  });
}

interface Https {
  port: number;
  http: http.Server;
  /** Every stream the TLS server handed to node:http. */
  duplexes: TlsDuplex[];
  close(): Promise<void>;
}

async function startHttps(transport: Transport): Promise<Https> {
  const httpServer = http.createServer(handler);
  const duplexes: TlsDuplex[] = [];
  const tlsServer = createTlsDuplexServer({ ...p.server, alpnProtocols: ['http/1.1'], transport }, (duplex: TlsDuplex) => {
    duplexes.push(duplex);
    httpServer.emit('connection', duplex);
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (tlsServer.address() as AddressInfo).port,
    http: httpServer,
    duplexes,
    close: async () => {
      httpServer.closeAllConnections();
      for (const d of duplexes) d.destroy();
      await withTimeout(new Promise((resolve) => tlsServer.close(resolve)), 10_000, 'server close');
    },
  };
}

function curl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '15', '--cacert', p.file('ca', 'crt'), ...args], { encoding: 'latin1', maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

function fetchBody(req: http.ClientRequest, body?: Buffer): Promise<{ status: number; body: Buffer; socket: unknown }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), socket: req.socket }));
      });
      req.on('error', reject);
      req.end(body);
    }),
    15_000,
    'http request',
  );
}

const greeting = (alpn: string) => `hello over TLSv1.3 alpn=${alpn} encrypted=true\n`;

for (const transport of ['native', 'js'] as const) {
  const httpsSuite = suite<{ srv?: Https }>(`https via node:http over TlsDuplex [${transport}]`);
  httpsSuite.before.each(async (ctx) => {
    ctx.srv = await startHttps(transport);
  });
  httpsSuite.after.each(async (ctx) => {
    await ctx.srv?.close();
  });

  httpsSuite('curl --cacert gets a page, 4 MiB and posts 4 MiB; keep-alive and a connection per request', async (ctx) => {
    const url = `https://127.0.0.1:${ctx.srv!.port}`;
    const page = await curl([`${url}/`]);
    assert.is(page.code, 0, page.stderr);
    assert.is(page.stdout, greeting('http/1.1'));
    const bigBody = await curl([`${url}/big`]);
    assert.is(sha(Buffer.from(bigBody.stdout, 'latin1')), sha(big));
    const posted = await curl(['--data-binary', `@${bodyFile}`, `${url}/post`]);
    assert.is(posted.code, 0, posted.stderr);
    assert.is(posted.stdout, sha(big));
    // Keep-alive: three requests, the big one between, over one connection.
    const before = ctx.srv!.duplexes.length;
    const kept = await curl(['--verbose', `${url}/`, `${url}/big`, `${url}/`]);
    assert.is(kept.code, 0, kept.stderr);
    assert.is(sha(Buffer.from(kept.stdout, 'latin1')), sha(Buffer.concat([Buffer.from(greeting('http/1.1')), big, Buffer.from(greeting('http/1.1'))])));
    assert.is(ctx.srv!.duplexes.length - before, 1);
    // Connection: close: the server ends each connection after its response.
    const fresh = await curl(['-H', 'Connection: close', `${url}/`, `${url}/`]);
    assert.is(fresh.stdout, greeting('http/1.1').repeat(2));
    assert.is(ctx.srv!.duplexes.length - before, 3);
  });

  httpsSuite('curl refuses the server without the CA, and accepts it with TLS 1.2 too', async (ctx) => {
    const url = `https://127.0.0.1:${ctx.srv!.port}/`;
    const untrusted = await new Promise<number>((resolve) =>
      execFile('curl', ['--silent', '--max-time', '15', url], (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0)),
    );
    assert.is(untrusted, 60); // CURLE_PEER_FAILED_VERIFICATION
    const tls12 = await curl(['--tlsv1.2', '--tls-max', '1.2', url]);
    assert.is(tls12.stdout, 'hello over TLSv1.2 alpn=http/1.1 encrypted=true\n');
  });

  httpsSuite('the socket members node:http reads: addresses, address()', async (ctx) => {
    const who = await curl([`https://127.0.0.1:${ctx.srv!.port}/who`]);
    assert.is(who.stdout, `127.0.0.1 IPv4 127.0.0.1:${ctx.srv!.port}=127.0.0.1:${ctx.srv!.port}`);
  });

  httpsSuite('node:https as the client: new connections and keep-alive, 4 MiB both ways', async (ctx) => {
    for (const keepAlive of [false, true]) {
      const agent = new https.Agent({ ca: p.ca.cert, keepAlive, maxSockets: 1 });
      const base = { host: '127.0.0.1', port: ctx.srv!.port, agent };
      const before = ctx.srv!.duplexes.length;
      const sockets = new Set<unknown>();
      for (let i = 0; i < 3; i++) {
        const got = await fetchBody(https.request({ ...base, path: '/' }));
        assert.is(got.status, 200);
        assert.is(got.body.toString(), greeting('false'));
        sockets.add(got.socket);
      }
      const posted = await fetchBody(https.request({ ...base, method: 'POST', path: '/post' }), big);
      assert.is(posted.body.toString(), sha(big));
      const bigGot = await fetchBody(https.request({ ...base, path: '/big' }));
      assert.is(sha(bigGot.body), sha(big));
      assert.is(ctx.srv!.duplexes.length - before, keepAlive ? 1 : 5, `keepAlive ${keepAlive}`);
      agent.destroy();
    }
  });

  httpsSuite('undici fetch (its own TLS): keep-alive, 4 MiB both ways', async (ctx) => {
    const agent = new Agent({ connect: { ca: p.ca.cert }, connections: 1 });
    try {
      const url = `https://localhost:${ctx.srv!.port}`;
      const a = await withTimeout(fetch(`${url}/`, { dispatcher: agent }), 10_000, 'fetch /');
      assert.is(await a.text(), greeting('http/1.1')); // undici offers ALPN
      const posted = await withTimeout(fetch(`${url}/post`, { method: 'POST', body: big, dispatcher: agent }), 10_000, 'fetch POST');
      assert.is(await posted.text(), sha(big));
      const got = await withTimeout(fetch(`${url}/big`, { dispatcher: agent }), 10_000, 'fetch /big');
      assert.is(sha(Buffer.from(await got.arrayBuffer())), sha(big));
      assert.is(ctx.srv!.duplexes.length, 1, 'one kept-alive connection');
    } finally {
      await agent.close();
    }
  });

  httpsSuite("node:http's keepAliveTimeout closes an idle kept-alive connection (the duplex's setTimeout)", async (ctx) => {
    ctx.srv!.http.keepAliveTimeout = 200;
    const agent = new https.Agent({ ca: p.ca.cert, keepAlive: true });
    try {
      const got = await fetchBody(https.request({ host: '127.0.0.1', port: ctx.srv!.port, path: '/', agent }));
      assert.is(got.status, 200);
      const duplex = ctx.srv!.duplexes[0]!;
      if (!duplex.destroyed) await withTimeout(new Promise((r) => duplex.once('close', r)), 10_000, 'keep-alive timeout close');
      assert.ok(duplex.destroyed);
    } finally {
      agent.destroy();
    }
  });

  httpsSuite(`http.request({ createConnection: connectTlsDuplex }) sends HTTPS through rxtls`, async (ctx) => {
    const port = ctx.srv!.port;
    const createConnection = () => connectTlsDuplex({ host: 'localhost', port, ca: p.ca.cert, alpnProtocols: ['http/1.1'], transport });
    const got = await fetchBody(http.request({ host: 'localhost', port, path: '/', createConnection } as http.RequestOptions));
    assert.is(got.body.toString(), greeting('http/1.1'));
    const bigGot = await fetchBody(http.request({ host: 'localhost', port, path: '/big', createConnection } as http.RequestOptions));
    assert.is(sha(bigGot.body), sha(big));
    const posted = await fetchBody(http.request({ host: 'localhost', port, method: 'POST', path: '/post', createConnection } as http.RequestOptions), big);
    assert.is(posted.body.toString(), sha(big));
  });

  httpsSuite(`http.request({ createConnection: connectTlsDuplex }) to a node:https server`, async () => {
    const server = https.createServer({ ...p.server }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(req.method === 'POST' ? sha(Buffer.concat(chunks)) : req.url === '/big' ? big : 'node says hi'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (server.address() as AddressInfo).port;
      const createConnection = () => connectTlsDuplex({ host: 'localhost', port, ca: p.ca.cert, transport });
      const got = await fetchBody(http.request({ host: 'localhost', port, path: '/', createConnection } as http.RequestOptions));
      assert.is(got.body.toString(), 'node says hi');
      const posted = await fetchBody(http.request({ host: 'localhost', port, method: 'POST', path: '/', createConnection } as http.RequestOptions), big);
      assert.is(posted.body.toString(), sha(big));
      const bigGot = await fetchBody(http.request({ host: 'localhost', port, path: '/big', createConnection } as http.RequestOptions));
      assert.is(sha(bigGot.body), sha(big));
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  httpsSuite('a failed handshake destroys the client duplex with the TLS error', async (ctx) => {
    const duplex = connectTlsDuplex({ host: 'localhost', port: ctx.srv!.port, transport });
    const err = await withTimeout(new Promise<Error & { code?: string }>((resolve) => duplex.once('error', resolve)), 10_000, 'error');
    assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
    assert.ok(duplex.destroyed);
  });

  httpsSuite.run();
}
