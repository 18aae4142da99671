// Session resumption: TLS 1.3 and 1.2 tickets, the server-side cache,
// client sessions saved and offered again, the `resumed` report, and ticket
// keys shared (and rotated) so that separate server processes resume each
// other's sessions. Peers: `openssl s_client -sess_out/-sess_in`, rxtls.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  connectTls,
  generateTicketKeys,
  TLS1_2_VERSION,
  TLSClientContext,
  TLSServerContext,
  type ClientOptions,
  type Transport,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer, type RunningServer } from '../helpers/features.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { eachTransport, TRANSPORTS } from '../helpers/transports.js';

const p = pki();
const dir = mkdtempSync(join(tmpdir(), 'rxtls-sess-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A server that says whether the connection resumed, then closes it cleanly. */
const resumeServer = (transport: Transport, extra: Parameters<typeof startServer>[0] = {}) =>
  startServer({ transport, ...p.server, ...extra }, (engine) => {
    engine.onsecure = () => {
      engine.write(engine.info().resumed ? 'resumed\n' : 'full\n');
      engine.end();
    };
  });

/** Connects, reads the server's answer and the session (waiting for the TLS 1.3 ticket). */
async function visit(transport: Transport, options: ClientOptions): Promise<{ answer: string; resumed: boolean; session: Buffer | null }> {
  const engine = connectTls({ ...options, transport });
  let answer = '';
  let resumed = false;
  let session: Buffer | null = null;
  engine.onsecure = () => (resumed = engine.info().resumed);
  engine.onsession = (s) => (session = s);
  engine.ondata = (d) => (answer += d.toString());
  const error = await withTimeout(new Promise((resolve) => (engine.onclose = resolve)), 10_000, 'connection');
  if (error) throw error;
  return { answer: answer.trim(), resumed, session };
}

function tls12Client(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(p.ca.cert);
  ctx.set_protocol_versions(TLS1_2_VERSION, TLS1_2_VERSION);
  return ctx;
}

const sClient = (port: number, args: string[]) =>
  withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', ...args], ''), 20_000, 's_client');

const resumption = suite<{ srv?: RunningServer; procs: ChildProcess[] }>('resumption', { procs: [] });
resumption.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
  for (const proc of ctx.procs) {
    proc.stdin?.end();
    if (proc.exitCode === null) await new Promise((resolve) => proc.once('close', resolve));
  }
  ctx.procs = [];
});

for (const [name, args] of [
  ['TLS 1.3 ticket', ['-tls1_3']],
  ['TLS 1.2 ticket', ['-tls1_2']],
] as const) {
  eachTransport(resumption, `openssl s_client -sess_out / -sess_in: ${name}`, async (transport, ctx) => {
    ctx.srv = await resumeServer(transport);
    const file = join(dir, `${args[0]}.pem`);
    const first = await sClient(ctx.srv.port, [...args, '-sess_out', file]);
    assert.match(first.stdout, /^New, TLSv1\.[23]/m, first.stdout);
    assert.match(first.stdout, /^full$/m);
    const again = await sClient(ctx.srv.port, [...args, '-sess_in', file]);
    assert.match(again.stdout, /^Reused, TLSv1\.[23]/m, again.stdout);
    assert.match(again.stdout, /^resumed$/m);
  });
}

eachTransport(resumption, 'TLS 1.2 without tickets: the server-side session cache resumes by session id', async (transport, ctx) => {
  ctx.srv = await resumeServer(transport, { sessionTickets: false });
  const file = join(dir, 'cache.pem');
  const first = await sClient(ctx.srv.port, ['-tls1_2', '-sess_out', file]);
  assert.match(first.stdout, /^New, TLSv1\.2/m);
  assert.not.match(first.stdout, /TLS session ticket lifetime hint/);
  const again = await sClient(ctx.srv.port, ['-tls1_2', '-sess_in', file]);
  assert.match(again.stdout, /^Reused, TLSv1\.2/m);
  assert.match(again.stdout, /^resumed$/m);
});

eachTransport(resumption, 'rxtls <-> rxtls: a saved session resumes (TLS 1.3 and 1.2)', async (transport, ctx) => {
  ctx.srv = await resumeServer(transport);
  const base = { host: 'localhost', port: ctx.srv.port, ca: p.ca.cert };
  const first = await visit(transport, base);
  assert.is(first.answer, 'full');
  assert.ok(first.session, 'a TLS 1.3 ticket arrived');
  const second = await visit(transport, { ...base, session: first.session! });
  assert.is(second.answer, 'resumed');
  assert.ok(second.resumed);

  const ctx12 = tls12Client();
  const a = await visit(transport, { host: 'localhost', port: ctx.srv.port, context: ctx12 });
  assert.is(a.answer, 'full');
  assert.ok(a.session);
  const b = await visit(transport, { host: 'localhost', port: ctx.srv.port, context: ctx12, session: a.session! });
  assert.is(b.answer, 'resumed');
  assert.ok(b.resumed);
});

eachTransport(resumption, 'a session is not resumed by a server that never issued it', async (transport, ctx) => {
  ctx.srv = await resumeServer(transport);
  const other = await resumeServer(transport);
  try {
    const first = await visit(transport, { host: 'localhost', port: ctx.srv.port, ca: p.ca.cert });
    const elsewhere = await visit(transport, { host: 'localhost', port: other.port, ca: p.ca.cert, session: first.session! });
    assert.is(elsewhere.answer, 'full');
  } finally {
    await other.close();
  }
});

/** NewSessionTicket messages in `s_client -msg` output (each shows once, as received). */
const ticketsIn = (stdout: string) => stdout.match(/<<< TLS 1\.[23], Handshake \[length [0-9a-f]+\], NewSessionTicket/g)?.length ?? 0;

eachTransport(resumption, 'openssl s_client: a resumed connection gets no new ticket unless asked (renewTickets)', async (transport, ctx) => {
  ctx.srv = await resumeServer(transport);
  const always = await resumeServer(transport, { renewTickets: 'always' });
  try {
    for (const [version, full] of [['-tls1_3', 2], ['-tls1_2', 1]] as const) {
      for (const [srv, expected] of [[ctx.srv, 0], [always, 1]] as const) {
        const file = join(dir, `renew${version}-${expected}.pem`);
        const first = await sClient(srv.port, [version, '-msg', '-sess_out', file]);
        assert.is(ticketsIn(first.stdout), full, `${version}: a full handshake's tickets`);
        const again = await sClient(srv.port, [version, '-msg', '-sess_in', file]);
        assert.match(again.stdout, /^Reused, TLSv1\.[23]/m, again.stdout);
        assert.is(ticketsIn(again.stdout), expected, `${version}, renewal ${expected ? 'always' : 'when stale'}`);
      }
    }
  } finally {
    await always.close();
  }
});

eachTransport(resumption, 'renewTickets: a ticket past half its lifetime, or renewal always, brings a new one that resumes again', async (transport, ctx) => {
  ctx.srv = await resumeServer(transport, { sessionTimeout: 4 });
  const always = await resumeServer(transport, { renewTickets: 'always' });
  try {
    const opts = { host: 'localhost', port: ctx.srv.port, ca: p.ca.cert };
    const first = await visit(transport, opts);
    const fresh = await visit(transport, { ...opts, session: first.session! });
    assert.is(fresh.answer, 'resumed');
    assert.is(fresh.session, null, 'a fresh ticket is used again, not replaced');
    const file = join(dir, 'stale-tls1_2.pem');
    await sClient(ctx.srv.port, ['-tls1_2', '-sess_out', file]);
    // The lifetime is 4 s: at 2 s a ticket is stale, and still valid.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const stale = await visit(transport, { ...opts, session: first.session! });
    assert.is(stale.answer, 'resumed');
    assert.ok(stale.session, 'a stale ticket is replaced');
    assert.is((await visit(transport, { ...opts, session: stale.session! })).answer, 'resumed');
    const stale12 = await sClient(ctx.srv.port, ['-tls1_2', '-msg', '-sess_in', file]);
    assert.match(stale12.stdout, /^Reused, TLSv1\.2/m);
    assert.is(ticketsIn(stale12.stdout), 1, 'TLS 1.2: a stale ticket is replaced');

    const a = await visit(transport, { ...opts, port: always.port });
    const b = await visit(transport, { ...opts, port: always.port, session: a.session! });
    assert.is(b.answer, 'resumed');
    assert.ok(b.session, "'always': every resumption brings a new ticket");
    assert.is((await visit(transport, { ...opts, port: always.port, session: b.session! })).answer, 'resumed');

    // TLS 1.2 on an rxtls client: OpenSSL reports no new session on a resumed
    // handshake, so the renewed ticket is found by the session it replaced.
    const ctx12 = tls12Client();
    const plain = { host: 'localhost', context: ctx12 };
    const a12 = await visit(transport, { ...plain, port: always.port });
    const b12 = await visit(transport, { ...plain, port: always.port, session: a12.session! });
    assert.is(b12.answer, 'resumed');
    assert.ok(b12.session, "TLS 1.2, 'always': the renewed ticket reaches onsession");
    assert.not.equal(b12.session, a12.session);
    assert.is((await visit(transport, { ...plain, port: always.port, session: b12.session! })).answer, 'resumed');
    const c12 = await visit(transport, { ...plain, port: ctx.srv.port });
    const d12 = await visit(transport, { ...plain, port: ctx.srv.port, session: c12.session! });
    assert.is(d12.answer, 'resumed');
    assert.is(d12.session, null, 'TLS 1.2: a fresh ticket is not replaced');
  } finally {
    await always.close();
  }
});

/** Starts test/helpers/ticket-server.ts in a child process; resolves with its port. */
async function spawnServer(ctx: { procs: ChildProcess[] }, transport: Transport, keys: Buffer | undefined): Promise<number> {
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('../helpers/ticket-server.ts', import.meta.url).pathname], {
    env: { ...process.env, RXTLS_CERT: p.server.cert, RXTLS_KEY: p.server.key, RXTLS_TICKET_KEYS: keys?.toString('hex') ?? '', RXTLS_TRANSPORT: transport },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  ctx.procs.push(proc);
  let out = '';
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      proc.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      proc.once('close', (code) => reject(new Error(`ticket server exited (${code})`)));
    }),
    20_000,
    'ticket server start',
  );
}

eachTransport(resumption, 'two server processes sharing ticket keys resume each other\'s sessions', async (transport, ctx) => {
  const shared = generateTicketKeys();
  const [portA, portB, portC] = await Promise.all([
    spawnServer(ctx, transport, shared),
    spawnServer(ctx, transport, shared),
    spawnServer(ctx, transport, generateTicketKeys()),
  ]);
  for (const context of [undefined, tls12Client()]) {
    const base = context ? { host: 'localhost', context } : { host: 'localhost', ca: p.ca.cert };
    const atA = await visit(transport, { ...base, port: portA });
    assert.is(atA.answer, 'full');
    assert.ok(atA.session);
    const atB = await visit(transport, { ...base, port: portB, session: atA.session! });
    assert.is(atB.answer, 'resumed', 'B opened the ticket A sealed');
    const atC = await visit(transport, { ...base, port: portC, session: atA.session! });
    assert.is(atC.answer, 'full', 'other keys: a full handshake, no error');
  }
});

eachTransport(resumption, 'rotation: a new key seals, the old one still opens until it is dropped', async (transport, ctx) => {
  const oldKey = generateTicketKeys();
  const newKey = generateTicketKeys();
  ctx.srv = await resumeServer(transport, { ticketKeys: oldKey });
  const base = { host: 'localhost', port: ctx.srv.port, ca: p.ca.cert };
  const sealedWithOld = (await visit(transport, base)).session!;
  const rotated = await resumeServer(transport, { ticketKeys: Buffer.concat([newKey, oldKey]) });
  const dropped = await resumeServer(transport, { ticketKeys: newKey });
  try {
    const r = await visit(transport, { ...base, port: rotated.port, session: sealedWithOld });
    assert.is(r.answer, 'resumed');
    // The re-issued ticket is sealed with the new key: the server without the old key takes it.
    assert.ok(r.session);
    assert.is((await visit(transport, { ...base, port: dropped.port, session: r.session! })).answer, 'resumed');
    assert.is((await visit(transport, { ...base, port: dropped.port, session: sealedWithOld })).answer, 'full');
  } finally {
    await rotated.close();
    await dropped.close();
  }
});

resumption('ticket keys and session options: argument checks and round trip', () => {
  const ctx = new TLSServerContext();
  assert.is(ctx.get_ticket_keys(), null);
  const keys = generateTicketKeys(2);
  ctx.set_ticket_keys(keys);
  assert.ok(ctx.get_ticket_keys()!.equals(keys));
  const invalid = (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT';
  assert.throws(() => ctx.set_ticket_keys(Buffer.alloc(79)), invalid);
  assert.throws(() => ctx.set_ticket_keys('x'.repeat(80) as never), invalid);
  assert.throws(() => ctx.set_ticket_keys(Buffer.concat([keys.subarray(0, 80), keys.subarray(0, 80)])), invalid);
  assert.throws(() => generateTicketKeys(0), invalid);
  assert.throws(() => new TLSClientContext().set_ticket_keys(keys), (e: Error & { code: string }) => e.code === 'ERR_TLS_STATE');
  assert.throws(() => ctx.set_session_options({ timeout: -5 }), invalid);
  assert.throws(() => ctx.set_session_options({ renew_tickets: 'never' as never }), invalid);
  assert.throws(() => new TLSClientContext().set_session_options({ renew_tickets: 'always' }), (e: Error & { code: string }) => e.code === 'ERR_TLS_STATE');
  ctx.set_session_options({ tickets: false, cache_size: 100, timeout: 600, renew_tickets: 'always' });
  // An IP address: the native transport checks the options before its (asynchronous) name lookup otherwise.
  for (const transport of TRANSPORTS)
    assert.throws(() => connectTls({ transport, host: '127.0.0.1', port: 1, ca: p.ca.cert, session: Buffer.from('not a session') }), invalid);
  ctx.free();
  assert.throws(() => ctx.get_ticket_keys(), (e: Error & { code: string }) => e.code === 'ERR_TLS_CLOSED');
});

resumption.run();
