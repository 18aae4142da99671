// Two "machines" (server processes on different ports, one ticket secret)
// behind Debian's HAProxy in TCP mode with `send-proxy-v2`: clients resume
// across both, each server reports the client's real address and port, and
// a connection that skips HAProxy (no PROXY header) is refused. With tickets
// off, TLS 1.2 session IDs resume across both through a shared Redis.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TLS1_2_VERSION, TLSClientContext } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startMember, visit, type Member } from '../helpers/fleet.js';
import { freePort, sleep, withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { redisFound, startRedis, type RedisServer } from '../helpers/session-store.js';
import { pki } from '../helpers/pki.js';

const haproxyFound = spawnSync('haproxy', ['-v']).status === 0;
if (!haproxyFound) {
  if (process.env.CI) throw new Error('haproxy is not installed, and CI requires this test (.ci/run installs it)');
  console.log('skip test/fleet/haproxy.test.ts: haproxy is not installed (apt-get install haproxy)');
  process.exit(0);
}

const p = pki();
const dir = mkdtempSync(join(tmpdir(), 'rxtls-haproxy-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

interface Haproxy {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** HAProxy in the foreground, TCP mode, round robin over `servers`, PROXY v2 to each. */
async function startHaproxy(servers: number[]): Promise<Haproxy> {
  const port = await freePort();
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 64',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend tls_in',
      `  bind 127.0.0.1:${port}`,
      '  default_backend fleet',
      'backend fleet',
      '  balance roundrobin',
      ...servers.map((s, i) => `  server s${i + 1} 127.0.0.1:${s} send-proxy-v2`),
      '',
    ].join('\n'),
  );
  const check = spawnSync('haproxy', ['-c', '-f', config], { encoding: 'utf8' });
  assert.is(check.status, 0, `haproxy -c: ${check.stdout}${check.stderr}`);
  const proc = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // Ready once its frontend accepts.
  await withTimeout(
    (async () => {
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`haproxy exited (${proc.exitCode})`);
        const up = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
          s.on('error', () => resolve(false));
        });
        if (up) return;
        await sleep(50);
      }
    })(),
    10_000,
    'haproxy start',
  );
  return {
    port,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await withTimeout(exited, 10_000, 'haproxy stop');
    },
  };
}

function tls12Client(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(p.ca.cert);
  ctx.set_protocol_versions(TLS1_2_VERSION, TLS1_2_VERSION);
  return ctx;
}

/** `<resumed|full> @<server port> <client>` of an answer. */
function parse(answer: string): { how: string; server: number; client: string } {
  const m = /^(resumed|full) @(\d+) (\S+) /.exec(answer);
  assert.ok(m, `answer "${answer}"`);
  return { how: m![1]!, server: Number(m![2]), client: m![3]! };
}

for (const transport of ['js', 'native'] as const) {
const fleet = suite<{ members: Member[]; haproxy?: Haproxy; redis?: RedisServer }>(`fleet behind HAProxy (send-proxy-v2, ${transport} servers)`, { members: [] });
fleet.after.each(async (ctx) => {
  await ctx.haproxy?.stop();
  ctx.haproxy = undefined;
  await Promise.all(ctx.members.map((m) => m.stop()));
  ctx.members = [];
  await ctx.redis?.stop();
  ctx.redis = undefined;
});

fleet('clients resume across both servers; each reports the client\'s own address and port; skipping HAProxy is refused', async (ctx) => {
  const secret = randomBytes(32).toString('hex');
  ctx.members = await Promise.all([startMember(p, { secret, proxy: true, transport }), startMember(p, { secret, proxy: true, transport })]);
  const [a, b] = ctx.members as [Member, Member];
  ctx.haproxy = await startHaproxy([a.port, b.port]);
  const front = ctx.haproxy.port;

  for (const context of [undefined, tls12Client()]) {
    const base = context ? { host: 'localhost', port: front, context } : { host: 'localhost', port: front, ca: p.ca.cert };
    const first = await visit(base);
    const issued = parse(first.answer);
    assert.is(issued.how, 'full');
    assert.is(issued.client, first.local, 'the server saw the client, not HAProxy');
    assert.ok(first.session);
    // Round robin: the next connections alternate between the servers.
    const servers = new Set([issued.server]);
    for (let i = 0; i < 3; i++) {
      const again = await visit({ ...base, session: first.session! });
      const seen = parse(again.answer);
      assert.is(seen.how, 'resumed', `resumed on @${seen.server}: ${again.answer}`);
      assert.ok(again.resumed);
      assert.is(seen.client, again.local);
      servers.add(seen.server);
    }
    assert.equal([...servers].sort(), [a.port, b.port].sort(), 'both servers answered, each resuming the other\'s tickets');
  }

  // openssl s_client through HAProxy: the saved session resumes on the other server.
  for (const version of ['-tls1_3', '-tls1_2']) {
    const file = join(dir, `sess${version}.pem`);
    const sClient = (args: string[]) =>
      withTimeout(runSClient(front, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', version, ...args], ''), 20_000, 's_client');
    const first = await sClient(['-sess_out', file]);
    assert.match(first.stdout, /^New, TLSv1\.[23]/m, first.stdout);
    const issuedBy = parse(/^(?:full|resumed) .*$/m.exec(first.stdout)![0]).server;
    const next = await sClient(['-sess_in', file]);
    assert.match(next.stdout, /^Reused, TLSv1\.[23]/m, next.stdout);
    const line = parse(/^(?:full|resumed) .*$/m.exec(next.stdout)![0]);
    assert.is(line.how, 'resumed');
    assert.is.not(line.server, issuedBy, 'resumed by the server that did not issue it');
  }

  // Straight to a server, without HAProxy's header: refused, and reported.
  for (const m of [a, b]) {
    const before = m.refused.length;
    const direct = await visit({ host: 'localhost', port: m.port, ca: p.ca.cert }).then(
      () => undefined,
      (err: Error) => err,
    );
    assert.ok(direct, 'a direct client fails');
    await withTimeout(
      (async () => {
        while (m.refused.length <= before) await sleep(10);
      })(),
      10_000,
      'refusal report',
    );
    assert.match(m.refused.at(-1)!, /no PROXY header/);
  }
});

fleet('TLS 1.2 session IDs resume across both servers through Redis (tickets off), behind HAProxy', async (ctx) => {
  if (!redisFound) {
    if (process.env.CI) throw new Error('redis-server is not installed, and CI requires this test (.ci/run installs it)');
    console.log('skip: redis-server is not installed (apt-get install redis-server)');
    return;
  }
  ctx.redis = await startRedis(await freePort());
  // No shared ticket secret: only the store can resume on the other server.
  const secret = randomBytes(32).toString('hex');
  ctx.members = await Promise.all([0, 1].map(() => startMember(p, { secret, proxy: true, redisPort: ctx.redis!.port, transport })));
  const [a, b] = ctx.members as [Member, Member];
  ctx.haproxy = await startHaproxy([a.port, b.port]);
  const base = { host: 'localhost', port: ctx.haproxy.port, context: tls12Client() };
  const first = await visit(base);
  const issued = parse(first.answer);
  assert.is(issued.how, 'full');
  assert.ok(first.session, 'a TLS 1.2 session (ID) to resume');
  const servers = new Set([issued.server]);
  for (let i = 0; i < 3; i++) {
    const again = await visit({ ...base, session: first.session! });
    const seen = parse(again.answer);
    assert.is(seen.how, 'resumed', `resumed on @${seen.server}: ${again.answer}`);
    assert.is(seen.client, again.local, 'the real client address, through HAProxy');
    servers.add(seen.server);
  }
  assert.equal([...servers].sort(), [a.port, b.port].sort(), 'both servers resumed the session one of them made');
  // s_client with tickets off: its saved session resumes on the other server.
  const file = join(dir, 'sess-redis.pem');
  const sClient = (args: string[]) =>
    withTimeout(runSClient(ctx.haproxy!.port, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', '-tls1_2', '-no_ticket', ...args], ''), 20_000, 's_client');
  const made = await sClient(['-sess_out', file]);
  const madeBy = parse(/^(?:full|resumed) .*$/m.exec(made.stdout)![0]).server;
  const next = await sClient(['-sess_in', file]);
  assert.match(next.stdout, /^Reused, TLSv1\.2/m, next.stdout);
  const line = parse(/^(?:full|resumed) .*$/m.exec(next.stdout)![0]);
  assert.is(line.how, 'resumed');
  assert.is.not(line.server, madeBy, 'resumed by the server that did not make it');
});

fleet.run();
}
