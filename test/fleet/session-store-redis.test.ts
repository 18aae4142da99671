// The Redis session store on Debian's redis-server (started here on
// 127.0.0.1, random port, no persistence): TLS 1.2 session-ID resumption
// across two servers with their own contexts and their own Redis clients
// (openssl s_client -no_ticket and rxtls), keys with the session timeout as
// TTL; Redis stopped mid-test means full handshakes (bounded, no crash), and
// resumption comes back when it is started again on the same port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createRedisSessionStore, type Transport } from '@rxtls/core';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import type { RunningServerOn } from '../helpers/features.js';
import { visit } from '../helpers/fleet.js';
import { freePort, sleep, withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { answeringServer, recorded, redisFound, startRedis, tls12Client, type RedisServer } from '../helpers/session-store.js';

if (!redisFound) {
  if (process.env.CI) throw new Error('redis-server is not installed, and CI requires this test (.ci/run installs it)');
  console.log('skip test/fleet/session-store-redis.test.ts: redis-server is not installed (apt-get install redis-server)');
  process.exit(0);
}

const p = pki();
const dir = mkdtempSync(join(tmpdir(), 'rxtls-redis-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const sClient = (port: number, args: string[]) =>
  withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', '-tls1_2', '-no_ticket', ...args], ''), 20_000, 's_client');
const rxtls12 = { host: 'localhost', context: tls12Client(p) };

/** A client as the adapter recommends: no offline queue, so a down Redis fails at once; quick reconnects for the test. */
function client(port: number): Redis {
  const c = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  c.on('error', () => {}); // reported per command; the connection retries by itself
  return c;
}

async function ready(clients: Redis[]): Promise<void> {
  await withTimeout(
    (async () => {
      while (!clients.every((c) => c.status === 'ready')) await sleep(20);
    })(),
    10_000,
    'redis clients ready',
  );
}

interface Ctx {
  redis?: RedisServer;
  clients: Redis[];
  servers: RunningServerOn[];
}
const redisStore = suite<Ctx>('redis session store', { clients: [], servers: [] });
redisStore.after.each(async (ctx) => {
  await Promise.all(ctx.servers.splice(0).map((s) => s.close()));
  for (const c of ctx.clients.splice(0)) c.disconnect();
  await ctx.redis?.stop();
  ctx.redis = undefined;
});

/** Two servers ("machines"), each with its own context and its own Redis client. */
async function fleet(ctx: Ctx, port: number, transport: Transport) {
  const stores = [0, 1].map(() => {
    const c = client(port);
    ctx.clients.push(c);
    return recorded(createRedisSessionStore(c, { prefix: 'test:' }));
  });
  await ready(ctx.clients);
  const [a, b] = await Promise.all(stores.map((s) => answeringServer(p, { sessionStore: s, sessionTimeout: 300 }, transport)));
  ctx.servers.push(a!, b!);
  return { a: a!, b: b!, stores: stores as [(typeof stores)[0], (typeof stores)[0]] };
}

for (const transport of ['js', 'native'] as const) {
redisStore(`TLS 1.2 session IDs resume across two servers through Redis (s_client -no_ticket, rxtls); keys expire with the session timeout (${transport})`, async (ctx) => {
  const port = await freePort();
  ctx.redis = await startRedis(port);
  const { a, b, stores } = await fleet(ctx, port, transport);
  const file = join(dir, 'sess.pem');
  const first = await sClient(a.port, ['-sess_out', file]);
  assert.match(first.stdout, /^New, TLSv1\.2/m, first.stdout);
  await stores[0].settled();
  const keys = await ctx.clients[0]!.keys('test:*');
  assert.is(keys.length, 1);
  assert.match(keys[0]!, /^test:[0-9a-f]{64}$/);
  const ttl = await ctx.clients[0]!.ttl(keys[0]!);
  assert.ok(ttl > 0 && ttl <= 300, `TTL ${ttl}`);
  const onB = await sClient(b.port, ['-sess_in', file]);
  assert.match(onB.stdout, /^Reused, TLSv1\.2/m, onB.stdout);
  assert.match(onB.stdout, /^resumed TLSv1\.2/m);

  const atA = await visit({ ...rxtls12, port: a.port });
  assert.match(atA.answer, /^full /);
  await stores[0].settled();
  const atB = await visit({ ...rxtls12, port: b.port, session: atA.session! });
  assert.match(atB.answer, /^resumed TLSv1\.2/);
  assert.ok(atB.resumed);
});

redisStore(`Redis stopped mid-test: full handshakes, nothing hangs or crashes; started again on the same port, resumption comes back (${transport})`, async (ctx) => {
  const port = await freePort();
  ctx.redis = await startRedis(port);
  const { a, b, stores } = await fleet(ctx, port, transport);
  const file = join(dir, 'sess-down.pem');
  await sClient(a.port, ['-sess_out', file]);
  const atA = await visit({ ...rxtls12, port: a.port });
  await stores[0].settled();
  assert.match((await sClient(b.port, ['-sess_in', file])).stdout, /^Reused, /m);

  await ctx.redis.stop();
  for (let i = 0; i < 3; i++) {
    const s = await sClient(b.port, ['-sess_in', file]);
    assert.match(s.stdout, /^New, TLSv1\.2/m, s.stdout);
    assert.match(s.stdout, /^full /m);
    const v = await withTimeout(visit({ ...rxtls12, port: b.port, session: atA.session! }), 10_000, 'visit while Redis is down');
    assert.match(v.answer, /^full /);
    // New sessions cannot be stored either: still served.
    assert.match((await withTimeout(visit({ ...rxtls12, port: a.port }), 10_000, 'full visit')).answer, /^full /);
  }
  assert.equal(a.errors.concat(b.errors), []);

  ctx.redis = await startRedis(port);
  await ready(ctx.clients);
  // The restarted Redis is empty (no persistence): a new session, then it resumes across.
  const again = await sClient(a.port, ['-sess_out', file]);
  assert.match(again.stdout, /^New, TLSv1\.2/m);
  await stores[0].settled();
  const back = await sClient(b.port, ['-sess_in', file]);
  assert.match(back.stdout, /^Reused, TLSv1\.2/m, back.stdout);
  const v1 = await visit({ ...rxtls12, port: a.port });
  await stores[0].settled();
  assert.match((await visit({ ...rxtls12, port: b.port, session: v1.session! })).answer, /^resumed /);
});

}

redisStore.run();
