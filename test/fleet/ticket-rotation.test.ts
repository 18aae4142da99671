// Ticket keys every member derives alike from a shared secret and the clock:
// the derivation against the openssl CLI's HKDF, the ring, the rotation
// timer, and members in separate processes resuming each other's tickets
// through window n+1 and not in n+2 (rxtls clients and openssl s_client).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  createTlsServer,
  deriveTicketKey,
  TicketKeyRotation,
  ticketKeyRing,
  ticketWindow,
  TLS1_2_VERSION,
  TLSClientContext,
  TLSServerContext,
  DEFAULT_TICKET_WINDOW_MS,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startServer } from '../helpers/features.js';
import { startMember, visit, type Member } from '../helpers/fleet.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const dir = mkdtempSync(join(tmpdir(), 'rxtls-fleet-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const invalid = (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT';

const derivation = suite('ticket key derivation');

derivation('HKDF-SHA256 over the secret, salt "rxtls ticket keys v1", info "window <n>": as openssl kdf computes it', () => {
  const secret = randomBytes(32);
  for (const window of [0, 7, 885_000_123]) {
    const cli = execFileSync('openssl', [
      'kdf', '-keylen', '80', '-kdfopt', 'digest:SHA256', '-kdfopt', `hexkey:${secret.toString('hex')}`,
      '-kdfopt', 'salt:rxtls ticket keys v1', '-kdfopt', `info:window ${window}`, 'HKDF',
    ]).toString().trim().replaceAll(':', '').toLowerCase();
    assert.is(deriveTicketKey(secret, window).toString('hex'), cli);
  }
});

derivation('the ring is current, previous, next; hex and Buffer secrets agree; windows and secrets differ', () => {
  const secret = randomBytes(48);
  const ring = ticketKeyRing(secret, 10);
  assert.is(ring.length, 240);
  assert.ok(ring.subarray(0, 80).equals(deriveTicketKey(secret, 10)));
  assert.ok(ring.subarray(80, 160).equals(deriveTicketKey(secret, 9)));
  assert.ok(ring.subarray(160).equals(deriveTicketKey(secret, 11)));
  assert.ok(ticketKeyRing(secret.toString('hex'), 10).equals(ring));
  assert.not.ok(deriveTicketKey(randomBytes(32), 10).equals(deriveTicketKey(secret, 10)));
  assert.is(ticketKeyRing(secret, 0).length, 160, 'window 0 has no previous one');
  assert.is(ticketWindow(5 * 3600_000), 0);
  assert.is(ticketWindow(13 * 3600_000), 1);
  assert.is(DEFAULT_TICKET_WINDOW_MS, 12 * 3600_000);
});

derivation('argument checks', () => {
  const ctx = new TLSServerContext();
  assert.throws(() => deriveTicketKey(randomBytes(31), 1), invalid);
  assert.throws(() => deriveTicketKey('abc', 1), invalid);
  assert.throws(() => deriveTicketKey('zz'.repeat(32), 1), invalid);
  assert.throws(() => deriveTicketKey(randomBytes(32), -1), invalid);
  assert.throws(() => new TicketKeyRotation(ctx, { secret: randomBytes(32), windowMs: 10 }), invalid);
  assert.throws(() => new TicketKeyRotation(ctx, { secret: randomBytes(32), now: 5 as never }), invalid);
  const secret = randomBytes(32);
  assert.throws(() => createTlsServer({ ...p.server, ticketSecret: secret, ticketKeys: randomBytes(80) }, () => {}), invalid);
  assert.throws(() => createTlsServer({ ...p.server, ticketWindowMs: 5000 }, () => {}), invalid);
  assert.throws(() => createTlsServer({ ...p.server, ticketSecret: randomBytes(8) }, () => {}), invalid);
  ctx.free();
});

derivation('the timer rotates at the window boundary, setting the next ring on every context; stop() ends it', async () => {
  const secret = randomBytes(32);
  const contexts = [new TLSServerContext(), new TLSServerContext()];
  const rotated: number[] = [];
  let onRotate: (() => void) | undefined;
  const rotation = new TicketKeyRotation(contexts, {
    secret,
    windowMs: 1000,
    onrotate: (w) => (rotated.push(w), onRotate?.()),
  });
  try {
    const first = rotation.window;
    assert.is(rotated[0], first, 'keys set at once');
    for (const c of contexts) assert.ok(c.get_ticket_keys()!.equals(ticketKeyRing(secret, first)));
    await withTimeout(new Promise<void>((resolve) => (onRotate = resolve)), 5000, 'rotation');
    const second = rotation.window;
    assert.ok(second > first);
    for (const c of contexts) assert.ok(c.get_ticket_keys()!.equals(ticketKeyRing(secret, second)));
  } finally {
    rotation.stop();
  }
  const stoppedAt = rotated.length;
  rotation.update();
  assert.is(rotated.length, stoppedAt, 'a stopped rotation sets nothing');
});

derivation('a manual clock: update() rotates only when the window changes', () => {
  let now = 100 * 5000 + 10;
  const ctx = new TLSServerContext();
  const secret = randomBytes(32);
  const rotation = new TicketKeyRotation(ctx, { secret, windowMs: 5000, now: () => now });
  try {
    assert.is(rotation.window, 100);
    now += 4000;
    assert.is(rotation.update(), 100);
    now += 1000;
    assert.is(rotation.update(), 101);
    assert.ok(ctx.get_ticket_keys()!.equals(ticketKeyRing(secret, 101)));
  } finally {
    rotation.stop();
  }
});

derivation('handshakeOffload: tickets sealed and opened on pool threads while the loop thread keeps setting the keys', async () => {
  const secret = randomBytes(32);
  const context = new TLSServerContext();
  context.load_certs(p.server.cert, p.server.key);
  // native: see issue 12 (in progress)
  const srv = await startServer({ transport: 'js', context, ticketSecret: secret, handshakeOffload: true }, (engine) => {
    engine.onsecure = () => {
      engine.write(engine.info().resumed ? 'resumed\n' : 'full\n');
      engine.end();
    };
  });
  // The same ring again and again (a new list each time), as a rotation would swap it.
  // Functional: the race the native lock prevents (a swap under a pool
  // thread's read) is too narrow to show up here, even under ASan.
  const ring = ticketKeyRing(secret, ticketWindow(Date.now(), DEFAULT_TICKET_WINDOW_MS));
  const churn = setInterval(() => context.set_ticket_keys(ring), 1);
  try {
    const base = { host: 'localhost', port: srv.port, ca: p.ca.cert };
    const first = await visit(base);
    assert.match(first.answer, /^full/);
    const answers = await Promise.all(Array.from({ length: 16 }, () => visit({ ...base, session: first.session! })));
    for (const a of answers) assert.match(a.answer, /^resumed/);
  } finally {
    clearInterval(churn);
    await srv.close();
  }
});

derivation.run();

const fleet = suite<{ members: Member[] }>('fleet members in separate processes', { members: [] });
fleet.after.each(async (ctx) => {
  await Promise.all(ctx.members.map((m) => m.stop()));
  ctx.members = [];
});

const WINDOW = 2000;
const T0 = 1_000_000 * WINDOW; // the start of window 1,000,000

function tls12Client(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(p.ca.cert);
  ctx.set_protocol_versions(TLS1_2_VERSION, TLS1_2_VERSION);
  return ctx;
}

fleet('a ticket from window n resumes on every member in n and n+1, and is refused (full handshake) in n+2', async (ctx) => {
  const secret = randomBytes(32).toString('hex');
  ctx.members = await Promise.all([1, 2].map(() => startMember(p, { secret, windowMs: WINDOW, manualClock: true })));
  const [a, b] = ctx.members as [Member, Member];
  const setAll = async (now: number) => Promise.all(ctx.members.map((m) => m.setClock(now)));
  for (const context of [undefined, tls12Client()]) {
    const base = context ? { host: 'localhost', context } : { host: 'localhost', ca: p.ca.cert };
    assert.equal(await setAll(T0 + 10), [1_000_000, 1_000_000]);
    const issued = await visit({ ...base, port: a.port });
    assert.match(issued.answer, /^full .* 1000000$/);
    assert.ok(issued.session, 'a ticket arrived');
    const sameWindow = await visit({ ...base, port: b.port, session: issued.session! });
    assert.match(sameWindow.answer, /^resumed /, 'b opens a\'s ticket in the same window');

    await setAll(T0 + WINDOW + 10);
    for (const m of [a, b]) {
      const next = await visit({ ...base, port: m.port, session: issued.session! });
      assert.match(next.answer, /^resumed .* 1000001$/, `window n+1 on port ${m.port}: ${next.answer}`);
    }
    // A member whose clock lags one window behind opens tickets sealed in the later one.
    await b.setClock(T0 + 10);
    const fresh = await visit({ ...base, port: a.port });
    assert.match(fresh.answer, /^full .* 1000001$/);
    assert.match((await visit({ ...base, port: b.port, session: fresh.session! })).answer, /^resumed .* 1000000$/);

    await setAll(T0 + 2 * WINDOW + 10);
    for (const m of [a, b]) {
      const late = await visit({ ...base, port: m.port, session: issued.session! });
      assert.match(late.answer, /^full .* 1000002$/, `window n+2 on port ${m.port}: ${late.answer}`);
      assert.not.ok(late.resumed);
    }
  }
});

fleet('createTlsServer({ ticketSecret }): members with the same secret resume each other (rxtls and openssl s_client), another secret never', async (ctx) => {
  const secret = randomBytes(32).toString('hex');
  ctx.members = await Promise.all([
    startMember(p, { secret }),
    startMember(p, { secret }),
    startMember(p, { secret: randomBytes(32).toString('hex') }),
  ]);
  const [a, b, other] = ctx.members as [Member, Member, Member];
  for (const context of [undefined, tls12Client()]) {
    const base = context ? { host: 'localhost', context } : { host: 'localhost', ca: p.ca.cert };
    const atA = await visit({ ...base, port: a.port });
    assert.match(atA.answer, /^full /);
    const atB = await visit({ ...base, port: b.port, session: atA.session! });
    assert.match(atB.answer, /^resumed /);
    assert.ok(atB.resumed);
    const atOther = await visit({ ...base, port: other.port, session: atA.session! });
    assert.match(atOther.answer, /^full /);
  }
  for (const version of ['-tls1_3', '-tls1_2']) {
    const file = join(dir, `sess${version}.pem`);
    const sClient = (port: number, args: string[]) =>
      withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', version, ...args], ''), 20_000, 's_client');
    const first = await sClient(a.port, ['-sess_out', file]);
    assert.match(first.stdout, /^New, TLSv1\.[23]/m, first.stdout);
    const onB = await sClient(b.port, ['-sess_in', file]);
    assert.match(onB.stdout, /^Reused, TLSv1\.[23]/m, onB.stdout);
    assert.match(onB.stdout, /^resumed /m);
    const onOther = await sClient(other.port, ['-sess_in', file]);
    assert.match(onOther.stdout, /^New, TLSv1\.[23]/m, onOther.stdout);
    assert.match(onOther.stdout, /^full /m);
  }
});

fleet.run();
