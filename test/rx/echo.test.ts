// The echo server of examples/rx-echo.ts, exactly:
//   listen(opts).pipe(mergeMap((c) => read(c).pipe(write(c))))
// against rx clients and node:tls, with SHA-256 over what comes back; on
// each transport (the rx server and client on the same one).
import { createHash, randomBytes } from 'node:crypto';
import * as tls from 'node:tls';

import { connect, listen, read, write, writeFrom, type ListenOptions } from '@rxtls/rx';
import { firstValueFrom, from, lastValueFrom, mergeMap, reduce } from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import type { Transport } from '@rxtls/core';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { TRANSPORTS } from './fixtures/transports.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const slices = (b: Buffer, size: number) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));

interface Ctx {
  port: number;
  stop(): void;
  errors: unknown[];
}

/** Sends `payload` with `send`, reads the echo to its close_notify, returns its SHA-256. */
async function roundTrip(transport: Transport, port: number, payload: Buffer, send: 'writeFrom' | 'write'): Promise<string> {
  const conn = await firstValueFrom(connect({ port, ca: pki().ca.cert, transport }));
  const chunks = slices(payload, 64 * 1024);
  const [sent, digest] = await Promise.all([
    lastValueFrom((send === 'writeFrom' ? writeFrom(conn, chunks) : from(chunks).pipe(write(conn))).pipe(reduce((n, b) => n + b, 0))),
    lastValueFrom(read(conn).pipe(reduce((h, c) => h.update(c), createHash('sha256')))),
  ]);
  assert.is(sent, payload.length);
  return digest.digest('hex');
}

for (const transport of TRANSPORTS) {
  const Echo = suite<Ctx>(`echo [${transport}]`, { port: 0, stop: () => {}, errors: [] });

  Echo.before.each(async (ctx) => {
    const { server } = pki();
    ctx.errors = [];
    await new Promise<void>((resolve) => {
      const opts: ListenOptions = { ...server, port: 0, transport, onListening: (a) => ((ctx.port = a.port), resolve()) };
      const sub = listen(opts)
        .pipe(mergeMap((c) => read(c).pipe(write(c))))
        .subscribe({ error: (err) => ctx.errors.push(err) });
      ctx.stop = () => sub.unsubscribe();
    });
  });
  Echo.after.each((ctx) => ctx.stop());

  Echo('16 MiB of random bytes come back bit-exact (writeFrom client)', async ({ port, errors }) => {
    const payload = randomBytes(16 * MiB);
    const digest = await withTimeout(roundTrip(transport, port, payload, 'writeFrom'), 40_000, '16 MiB echo');
    assert.is(digest, sha256(payload));
    assert.equal(errors, []);
  });

  Echo('an unpausable source (from(array)) is still written completely', async ({ port, errors }) => {
    const payload = randomBytes(4 * MiB);
    const digest = await withTimeout(roundTrip(transport, port, payload, 'write'), 20_000, '4 MiB echo');
    assert.is(digest, sha256(payload));
    assert.equal(errors, []);
  });

  Echo('node:tls client: echo continues after its close_notify (TLS half-close)', async ({ port, errors }) => {
    const payload = randomBytes(2 * MiB);
    const got = await withTimeout(
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki().ca.cert }, () => {
          s.end(payload);
        });
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('end', () => resolve(Buffer.concat(chunks)));
        s.on('error', reject);
      }),
      20_000,
      'node:tls echo',
    );
    assert.is(sha256(got), sha256(payload));
    assert.equal(errors, []);
  });

  Echo('100 sequential small echoes on fresh connections', async ({ port, errors }) => {
    for (let i = 0; i < 100; i++) {
      const payload = randomBytes(1 + i * 97);
      assert.is(await withTimeout(roundTrip(transport, port, payload, 'write'), 10_000, `echo ${i}`), sha256(payload));
    }
    assert.equal(errors, []);
  });

  Echo.run();
}
