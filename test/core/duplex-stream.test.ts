// TlsDuplex as a stream, on both transports (createTlsDuplexServer and
// connectTlsDuplex with `transport`): 16 MiB echoed both ways through
// pipe(), a reader that stops (the connection pauses, the writer's callback
// waits for the drain), half-close, errors before and after the handshake,
// destroy under a waiting write, the socket methods node:http calls, the
// client certificate as the server's duplex sees it, and
// strings in every encoding (passed to the connection without a Buffer when
// their UTF-8 is the same bytes); and connectTlsDuplex refusing what the
// native transport would skip.
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

import {
  ClosedError,
  ErrorCode,
  connectTlsDuplex,
  createTlsDuplexServer,
  type NativeTransportOptions,
  type ServerOptions,
  type TlsDuplex,
  type TlsError,
  type Transport,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Served {
  port: number;
  /** Server-side streams, in the order they were handed over. */
  duplexes: TlsDuplex[];
  /** What 'tlsClientError' reported. */
  clientErrors: TlsError[];
  /** The next server-side stream not given out yet (waits for it). */
  next(): Promise<TlsDuplex>;
  close(): Promise<void>;
}

async function serve(transport: Transport, onDuplex: (d: TlsDuplex) => void, options: ServerOptions & NativeTransportOptions = {}): Promise<Served> {
  const duplexes: TlsDuplex[] = [];
  const clientErrors: TlsError[] = [];
  const waiting: Array<(d: TlsDuplex) => void> = [];
  let closing = false;
  let taken = 0; // duplexes next() has given out
  const server = createTlsDuplexServer({ ...p.server, ...options, transport }, (d: TlsDuplex) => {
    duplexes.push(d);
    // A handshake that completes while the test is closing the server.
    if (closing) return void d.destroy();
    onDuplex(d);
    waiting.shift()?.(d);
  });
  server.on('tlsClientError', (e: TlsError) => clientErrors.push(e));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    duplexes,
    clientErrors,
    next: () => {
      const handed = duplexes[taken++];
      return handed ? Promise.resolve(handed) : withTimeout(new Promise<TlsDuplex>((r) => waiting.push(r)), 10_000, 'server-side duplex');
    },
    close: async () => {
      closing = true;
      for (const d of duplexes) d.destroy();
      await withTimeout(new Promise((resolve) => server.close(resolve)), 10_000, 'server close');
    },
  };
}

/** All a stream sends until its 'end'. */
function readAll(d: TlsDuplex): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      d.on('data', (c: Buffer) => chunks.push(c));
      d.once('end', () => resolve(Buffer.concat(chunks)));
      d.once('error', reject);
    }),
    30_000,
    'read to the end',
  );
}

/** Resolves once `d` emitted 'close' (also when it already had). */
const closed = (d: TlsDuplex) => withTimeout(d.closed ? Promise.resolve() : new Promise<void>((r) => d.once('close', () => r())), 10_000, 'close');

const secured = (d: TlsDuplex) => withTimeout(new Promise((r) => d.once('secureConnect', r)), 10_000, 'secureConnect');

for (const transport of ['native', 'js'] as const) {
  const test = suite<{ srv?: Served; client?: TlsDuplex }>(`TlsDuplex as a stream [${transport}]`);
  test.after.each(async (ctx) => {
    ctx.client?.destroy();
    ctx.client = undefined;
    await ctx.srv?.close();
    ctx.srv = undefined;
  });
  const connect = (ctx: { srv?: Served; client?: TlsDuplex }, extra: { allowHalfOpen?: boolean } = {}) =>
    (ctx.client = connectTlsDuplex({ host: 'localhost', port: ctx.srv!.port, ca: p.ca.cert, transport, ...extra }));

  test('16 MiB echoed through pipe() both ways, hashes equal', async (ctx) => {
    ctx.srv = await serve(transport, (d) => d.pipe(d));
    const client = connect(ctx);
    const data = randomBytes(16 << 20);
    const back = readAll(client);
    // In 64 KiB writes, each waiting for the stream's drain: the writer's backpressure.
    for (let off = 0; off < data.length; off += 1 << 16) {
      if (!client.write(data.subarray(off, off + (1 << 16)))) await new Promise((r) => client.once('drain', r));
    }
    client.end();
    const got = await back;
    assert.is(got.length, data.length);
    assert.is(sha(got), sha(data));
  });

  test('a reader that stops pauses the connection; the writer waits; all arrives once it reads', async (ctx) => {
    ctx.srv = await serve(transport, () => {}); // nobody reads the server side yet
    const client = connect(ctx);
    const data = randomBytes(32 << 20);
    let written = false;
    client.write(data, () => (written = true));
    client.end();
    const server = await ctx.srv.next();
    // The server's buffer fills to its high-water mark; from there the connection is paused.
    while (server.readableLength < server.readableHighWaterMark) await sleep(20);
    await sleep(300); // room for a connection that kept reading to show it
    assert.ok(server.readableLength < 4 << 20, `the server buffered ${server.readableLength} bytes while nobody read`);
    assert.not.ok(written, "the client's write waits for the connection to drain");
    const got = await readAll(server);
    assert.is(sha(got), sha(data));
    assert.ok(written);
  });

  test('half-close: the client ends, the server answers 4 MiB after its end, both close', async (ctx) => {
    const answer = randomBytes(4 << 20);
    ctx.srv = await serve(
      transport,
      (d) => {
        const request: Buffer[] = [];
        d.on('data', (c: Buffer) => request.push(c));
        d.once('end', () => {
          d.write(Buffer.concat(request));
          d.end(answer);
        });
      },
      { allowHalfOpen: true },
    );
    const client = connect(ctx, { allowHalfOpen: true });
    client.end('request then end');
    const got = await readAll(client);
    assert.is(sha(got), sha(Buffer.concat([Buffer.from('request then end'), answer])));
    const server = ctx.srv.duplexes[0]!;
    await Promise.all([closed(client), closed(server)]);
    assert.is(server.connection.error, undefined);
    assert.is(client.connection.error, undefined);
  });

  test("errors: before the handshake the server's 'tlsClientError'; after it, a truncation that never throws", async (ctx) => {
    ctx.srv = await serve(transport, () => {}); // no 'error' listener, on purpose
    const raw = net.connect(ctx.srv.port, '127.0.0.1', () => raw.write('GET / HTTP/1.0\r\n\r\n'));
    raw.on('error', () => {});
    await withTimeout(new Promise((r) => raw.on('close', r)), 10_000, 'raw close');
    assert.is(ctx.srv.clientErrors.length, 1);
    assert.is(ctx.srv.clientErrors[0]!.code, ErrorCode.Handshake);
    assert.is(ctx.srv.duplexes.length, 0, 'a failed handshake is never handed over');

    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const client = connect(ctx);
      await secured(client);
      const server = await ctx.srv.next();
      client.destroy(); // TCP closes without close_notify (a reset, when unread data is left)
      await closed(server);
      assert.ok(([ErrorCode.Truncated, ErrorCode.Socket] as string[]).includes(server.connection.error!.code), server.connection.error?.code);
      await sleep(20);
      assert.equal(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  test('destroy under a waiting write fails its callback with a ClosedError', async (ctx) => {
    ctx.srv = await serve(transport, () => {});
    const client = connect(ctx);
    client.on('error', () => {});
    await secured(client);
    await ctx.srv.next();
    const written = new Promise<Error | null | undefined>((resolve) => client.write(Buffer.alloc(32 << 20, 1), resolve));
    // Wait until the connection's buffer is full and the write waits on it.
    while (client.connection.bufferedAmount === 0) await sleep(10);
    client.destroy();
    const err = await withTimeout(written, 5_000, 'write callback');
    assert.instance(err, ClosedError);
    assert.is((err as TlsError).code, 'ERR_TLS_CLOSED');
  });

  test('the socket methods node:http calls; setTimeout emits timeout when idle, 0 stops it', async (ctx) => {
    ctx.srv = await serve(transport, (d) => d.on('data', () => {}));
    const client = connect(ctx);
    await secured(client);
    const server = await ctx.srv.next();
    for (const d of [client, server]) {
      assert.is(d.setNoDelay(true), d);
      assert.is(d.setKeepAlive(true, 1000), d);
      assert.is(d.unref(), d);
      assert.is(d.ref(), d);
    }
    assert.is((client.address() as AddressInfo).port, client.localPort);
    assert.is(client.remotePort, ctx.srv.port);
    assert.is(server.remotePort, client.localPort);
    assert.throws(() => server.setTimeout(-1), (e: TlsError) => e.code === ErrorCode.InvalidArgument);
    let timeouts = 0;
    await withTimeout(new Promise<void>((r) => server.setTimeout(50, () => (timeouts++, r()))), 5_000, 'timeout');
    server.setTimeout(0);
    await sleep(150);
    assert.is(timeouts, 1);
    assert.not.ok(server.destroyed, "a timeout only tells: the listener decides");
    // Corked writes go out together and arrive in order.
    const got = readAll(server);
    client.cork();
    for (const s of ['one ', 'two ', 'three']) client.write(s);
    client.uncork();
    client.end();
    assert.is((await got).toString(), 'one two three');
  });

  test("requestCert 'unverified': the server's duplex reports a verified, a self-signed and no client certificate", async (ctx) => {
    ctx.srv = await serve(transport, () => {}, { ca: p.ca.cert, requestCert: 'unverified' });
    const seen: string[] = [];
    for (const cert of [p.client, p.selfSigned, undefined]) {
      const client = connectTlsDuplex({ host: 'localhost', port: ctx.srv.port, ca: p.ca.cert, transport, ...(cert ? { cert: cert.cert, key: cert.key } : {}) });
      await secured(client);
      const server = await ctx.srv.next();
      const err = server.authorizationError;
      seen.push(`${server.authorized} ${err?.verifyCode ?? (err ? 'none sent' : null)} ${server.getPeerCertificate()?.subject.CN ?? null}`);
      client.destroy();
    }
    assert.equal(seen, ['true null rxtls test client', 'false 18 localhost', 'false none sent null']);
  });

  test('strings in any encoding arrive as their bytes, written alone and corked together', async (ctx) => {
    ctx.srv = await serve(transport, () => {});
    const client = connect(ctx);
    const writes: Array<[string, BufferEncoding]> = [
      ['plain ascii ', 'latin1'],
      ['caf\u00e9 \u00ff ', 'latin1'], // latin1 bytes 0xe9, 0xff: not their UTF-8
      ['\u20ac \u{1f600} ', 'utf8'],
      ['deadbeef', 'hex'],
      ['aGVsbG8=', 'base64'],
      ['wide ', 'utf16le'],
    ];
    const expected = Buffer.concat([...writes, ...writes].map(([s, e]) => Buffer.from(s, e)));
    for (const [s, e] of writes) client.write(s, e);
    client.cork();
    for (const [s, e] of writes) client.write(s, e);
    process.nextTick(() => client.uncork());
    client.end();
    const server = await ctx.srv.next();
    assert.is((await readAll(server)).toString('hex'), expected.toString('hex'));
  });

  test.run();
}

const options = suite('connectTlsDuplex options');

for (const transport of ['native', 'js'] as const) {
  options(`checkServerIdentity (${transport}): a refusal fails the client before anything it wrote is sent`, async () => {
    const refuse = () => new Error('not this server');
    const received: Buffer[] = [];
    const srv = await serve('js', (d) => d.on('data', (c: Buffer) => received.push(c)));
    try {
      const client = connectTlsDuplex({ host: 'localhost', port: srv.port, ca: p.ca.cert, transport, checkServerIdentity: refuse });
      client.write('secret written before the handshake');
      const failed = await withTimeout(new Promise<Error>((r) => client.once('error', r)), 10_000, 'error');
      assert.match(failed.message, /server identity rejected: not this server/);
      assert.is((failed as TlsError).code, ErrorCode.CertVerify);
      await sleep(100);
      assert.is(Buffer.concat(received).length, 0, 'the server received nothing');
    } finally {
      await srv.close();
    }
  });

  options(`checkServerIdentity (${transport}): an accepting check sees the certificate, then the data flows`, async () => {
    const seen: Array<string | undefined> = [];
    const srv = await serve('js', (d) => d.on('data', (c: Buffer) => d.write(Buffer.concat([Buffer.from('got:'), c]))));
    try {
      const client = connectTlsDuplex({
        host: 'localhost',
        port: srv.port,
        ca: p.ca.cert,
        transport,
        checkServerIdentity: (host, cert) => void seen.push(`${host} ${cert?.subject ?? 'none'}`),
      });
      client.write('hi');
      const answer = await withTimeout(new Promise<Buffer>((r) => client.once('data', r)), 10_000, 'answer');
      assert.is(answer.toString(), 'got:hi');
      client.destroy();
      assert.is(seen.length, 1);
      assert.match(seen[0]!, /^localhost /);
    } finally {
      await srv.close();
    }
  });
}

options.run();
