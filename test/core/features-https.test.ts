// HTTPS on node:http through the TlsDuplex adapter: an http.Server fed
// rxtls connections serves curl and node:https; http.request with
// `createConnection` sends HTTPS to node:https and to rxtls.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';

import { connectTlsDuplex, createTlsServer, TlsDuplex } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const big = randomBytes(1 << 20);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Answers GET / with a greeting, GET /big with 1 MiB, POST with the SHA-256 of the body. */
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const tls = req.socket as unknown as TlsDuplex;
    if (req.method === 'POST') return void res.end(sha(Buffer.concat(chunks)));
    if (req.url === '/big') return void res.end(big);
    res.end(`hello over ${tls.getProtocol?.() ?? 'plain'} alpn=${tls.alpnProtocol} encrypted=${tls.encrypted}\n`);
  });
}

async function startHttps(): Promise<{ port: number; close(): Promise<void> }> {
  const httpServer = http.createServer(handler);
  // native: see issue 12 (in progress) — TlsDuplex runs over a TlsEngine, so node:http gets the JS transport.
  const tlsServer: Server = createTlsServer({ transport: 'js', ...p.server, alpnProtocols: ['http/1.1'] }, (engine) => {
    httpServer.emit('connection', new TlsDuplex(engine));
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (tlsServer.address() as AddressInfo).port,
    close: async () => {
      httpServer.closeAllConnections();
      await new Promise((resolve) => tlsServer.close(resolve));
    },
  };
}

function curl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '15', '--cacert', p.file('ca', 'crt'), ...args], { encoding: 'latin1', maxBuffer: 4 << 20 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

function fetchBody(req: http.ClientRequest, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    }),
    15_000,
    'http request',
  );
}

const httpsSuite = suite<{ srv?: { port: number; close(): Promise<void> } }>('https via node:http');
httpsSuite.before.each(async (ctx) => {
  ctx.srv = await startHttps();
});
httpsSuite.after.each(async (ctx) => {
  await ctx.srv?.close();
});

httpsSuite('curl --cacert gets a page, a 1 MiB body and posts one', async (ctx) => {
  const url = `https://127.0.0.1:${ctx.srv!.port}`;
  const page = await curl([`${url}/`]);
  assert.is(page.code, 0, page.stderr);
  assert.is(page.stdout, 'hello over TLSv1.3 alpn=http/1.1 encrypted=true\n');
  const bigBody = await curl([`${url}/big`]);
  assert.is(sha(Buffer.from(bigBody.stdout, 'latin1')), sha(big));
  const bodyFile = join(p.dir, 'big.bin');
  writeFileSync(bodyFile, big);
  const posted = await curl(['--data-binary', `@${bodyFile}`, `${url}/post`]);
  assert.is(posted.code, 0, posted.stderr);
  assert.is(posted.stdout, sha(big));
  // Keep-alive: two requests over one connection.
  const twice = await curl(['--verbose', `${url}/`, `${url}/`]);
  assert.is(twice.stdout, 'hello over TLSv1.3 alpn=http/1.1 encrypted=true\n'.repeat(2));
  assert.match(twice.stderr, /Re-using existing connection/);
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

httpsSuite('node:https as the client: GET and a 1 MiB POST', async (ctx) => {
  const agent = new https.Agent({ ca: p.ca.cert, keepAlive: false });
  const base = { host: '127.0.0.1', port: ctx.srv!.port, agent };
  const got = await fetchBody(https.request({ ...base, path: '/' }));
  assert.is(got.status, 200);
  assert.is(got.body.toString(), 'hello over TLSv1.3 alpn=false encrypted=true\n');
  const posted = await fetchBody(https.request({ ...base, method: 'POST', path: '/post' }), big);
  assert.is(posted.body.toString(), sha(big));
  agent.destroy();
});

httpsSuite('http.request({ createConnection }) sends HTTPS through rxtls', async (ctx) => {
  const port = ctx.srv!.port;
  const createConnection = () => connectTlsDuplex({ host: 'localhost', port, ca: p.ca.cert, alpnProtocols: ['http/1.1'] });
  const got = await fetchBody(http.request({ host: 'localhost', port, path: '/', createConnection } as http.RequestOptions));
  assert.is(got.body.toString(), 'hello over TLSv1.3 alpn=http/1.1 encrypted=true\n');
  const bigGot = await fetchBody(http.request({ host: 'localhost', port, path: '/big', createConnection } as http.RequestOptions));
  assert.is(sha(bigGot.body), sha(big));
  const posted = await fetchBody(http.request({ host: 'localhost', port, method: 'POST', path: '/post', createConnection } as http.RequestOptions), big);
  assert.is(posted.body.toString(), sha(big));
});

httpsSuite('http.request({ createConnection }) to a node:https server', async () => {
  const server = https.createServer({ ...p.server }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(req.method === 'POST' ? sha(Buffer.concat(chunks)) : 'node says hi'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const port = (server.address() as AddressInfo).port;
    const createConnection = () => connectTlsDuplex({ host: 'localhost', port, ca: p.ca.cert });
    const got = await fetchBody(http.request({ host: 'localhost', port, path: '/', createConnection } as http.RequestOptions));
    assert.is(got.body.toString(), 'node says hi');
    const posted = await fetchBody(http.request({ host: 'localhost', port, method: 'POST', path: '/', createConnection } as http.RequestOptions), big);
    assert.is(posted.body.toString(), sha(big));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

httpsSuite('a failed handshake destroys the duplex with the TLS error', async (ctx) => {
  const duplex = connectTlsDuplex({ host: 'localhost', port: ctx.srv!.port });
  const err = await withTimeout(new Promise<Error & { code?: string }>((resolve) => duplex.once('error', resolve)), 10_000, 'error');
  assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
  assert.ok(duplex.destroyed);
});

httpsSuite.run();
