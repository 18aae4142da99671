// The asynchronous session store (sessionStore): servers with separate
// contexts resume each other's sessions through it (TLS 1.2 session IDs,
// TLS 1.3 stateful tickets; openssl s_client and rxtls clients, also with
// handshakeOffload), and a store that never answers, throws, rejects or
// answers garbage means a full handshake; a connection destroyed while its
// lookup runs ignores the late answer. Every case runs on both transports
// (on the native one the handshake pauses in C++ while JS asks the store).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as net from 'node:net';

import { connectTls, type Transport } from '@rxtls/core';
import { binding, CycleFlag, type SessionOut } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import type { RunningServerOn } from '../helpers/features.js';
import { visit } from '../helpers/fleet.js';
import { sleep, withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { TlsEngine } from '@rxtls/core';
import { answeringServer, mapStore, recorded, tls12Client } from '../helpers/session-store.js';

const p = pki();
const dir = mkdtempSync(join(tmpdir(), 'rxtls-store-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const servers: RunningServerOn[] = [];
async function startOn(transport: Transport, options: Parameters<typeof answeringServer>[1]): Promise<RunningServerOn> {
  const s = await answeringServer(p, options, transport);
  servers.push(s);
  return s;
}
async function closeAll(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => s.close()));
}

const sClient = (port: number, args: string[]) =>
  withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', ...args], ''), 20_000, 's_client');
const rxtls12 = { host: 'localhost', context: tls12Client(p) };
const rxtls13 = { host: 'localhost', ca: p.ca.cert };

for (const transport of ['js', 'native'] as const) {
const server = (options: Parameters<typeof answeringServer>[1]) => startOn(transport, options);
const store = suite(`session store (${transport})`);
store.after.each(closeAll);

for (const offload of [false, true]) {
  const label = offload ? ' (handshakeOffload)' : '';
  store(`TLS 1.2 session IDs: two servers with separate contexts resume each other's sessions through the store; one without it does not${label}`, async () => {
    const map = mapStore();
    const shared = recorded(map);
    const a = await server({ sessionStore: shared, sessionTimeout: 600, handshakeOffload: offload });
    const b = await server({ sessionStore: shared, sessionTimeout: 600, handshakeOffload: offload });
    const alone = await server({ sessionTickets: false, handshakeOffload: offload });
    const file = join(dir, `s12-${offload}.pem`);
    const first = await sClient(a.port, ['-tls1_2', '-no_ticket', '-sess_out', file]);
    assert.match(first.stdout, /^New, TLSv1\.2/m, first.stdout);
    assert.match(first.stdout, /^full TLSv1\.2/m);
    await shared.settled();
    assert.is(shared.sets.length, 1, 'one session stored');
    assert.equal(shared.ttls, [600], 'TTL = the session timeout');
    const onB = await sClient(b.port, ['-tls1_2', '-no_ticket', '-sess_in', file]);
    assert.match(onB.stdout, /^Reused, TLSv1\.2/m, onB.stdout);
    assert.match(onB.stdout, /^resumed TLSv1\.2/m);
    assert.ok(shared.gets.some((id) => map.map.has(id.toString('hex'))), 'looked up by its session ID');
    const onAlone = await sClient(alone.port, ['-tls1_2', '-no_ticket', '-sess_in', file]);
    assert.match(onAlone.stdout, /^New, TLSv1\.2/m, onAlone.stdout);

    const atA = await visit({ ...rxtls12, port: a.port });
    assert.match(atA.answer, /^full TLSv1\.2/);
    await shared.settled();
    const atB = await visit({ ...rxtls12, port: b.port, session: atA.session! });
    assert.match(atB.answer, /^resumed TLSv1\.2/);
    assert.ok(atB.resumed);
    const atAlone = await visit({ ...rxtls12, port: alone.port, session: atA.session! });
    assert.match(atAlone.answer, /^full /);
    assert.equal(a.errors.concat(b.errors), []);
  });

  store(`TLS 1.3 with tickets off: OpenSSL's stateful tickets resume across servers through the store${label}`, async () => {
    const shared = recorded(mapStore());
    const a = await server({ sessionStore: shared, handshakeOffload: offload });
    const b = await server({ sessionStore: shared, handshakeOffload: offload });
    const file = join(dir, `s13-${offload}.pem`);
    const first = await sClient(a.port, ['-tls1_3', '-sess_out', file]);
    assert.match(first.stdout, /^New, TLSv1\.3/m, first.stdout);
    await shared.settled();
    assert.ok(shared.sets.length >= 1, 'the stateful tickets were stored');
    const onB = await sClient(b.port, ['-tls1_3', '-sess_in', file]);
    assert.match(onB.stdout, /^Reused, TLSv1\.3/m, onB.stdout);
    assert.match(onB.stdout, /^resumed TLSv1\.3/m);

    const atA = await visit({ ...rxtls13, port: a.port });
    assert.match(atA.answer, /^full TLSv1\.3/);
    await shared.settled();
    const atB = await visit({ ...rxtls13, port: b.port, session: atA.session! });
    assert.match(atB.answer, /^resumed TLSv1\.3/);
  });
}

store('a lookup that never settles: a full handshake after sessionStoreTimeout, and the server goes on', async () => {
  const map = mapStore();
  const hanging = recorded({ ...map, get: () => new Promise<Buffer | undefined>(() => {}) });
  const a = await server({ sessionStore: hanging, sessionStoreTimeout: 200 });
  const first = await visit({ ...rxtls12, port: a.port });
  await hanging.settled();
  assert.is(map.map.size, 1);
  for (let i = 0; i < 2; i++) {
    const again = await withTimeout(visit({ ...rxtls12, port: a.port, session: first.session! }), 10_000, 'visit');
    assert.match(again.answer, /^full /);
  }
  assert.is(hanging.gets.length, 2);
});

store('a store that throws, rejects or answers garbage: full handshakes, no crash; a garbage entry is deleted', async () => {
  const map = mapStore();
  const answers: Array<() => Promise<Buffer | undefined>> = [
    () => {
      throw new Error('store down');
    },
    () => Promise.reject(new Error('store down')),
    async () => Buffer.from('not a session'),
    async () => 'a string' as unknown as Buffer,
  ];
  let next = 0;
  const broken = recorded({ ...map, get: () => answers[next++ % answers.length]!() });
  const a = await server({ sessionStore: broken });
  const first = await visit({ ...rxtls12, port: a.port });
  await broken.settled();
  for (let i = 0; i < answers.length; i++) {
    const again = await withTimeout(visit({ ...rxtls12, port: a.port, session: first.session! }), 10_000, 'visit');
    assert.match(again.answer, /^full /);
  }
  assert.is(broken.gets.length, answers.length);
  // Only the entry that answered bytes that are no session was deleted; nothing else was.
  assert.equal(broken.deletes, [broken.gets[2]]);
  assert.not.ok(map.map.has(broken.gets[2]!.toString('hex')));
  // A store that answers properly resumes.
  const goodStore = recorded(map);
  const good = await server({ sessionStore: goodStore });
  const fresh = await visit({ ...rxtls12, port: good.port });
  await goodStore.settled();
  const resumed = await visit({ ...rxtls12, port: good.port, session: fresh.session! });
  assert.match(resumed.answer, /^resumed /);
  // A set that throws is only a session not kept.
  const noSet = await server({ sessionStore: { ...map, set: () => { throw new Error('read-only'); } } });
  assert.match((await visit({ ...rxtls12, port: noSet.port })).answer, /^full /);
});

for (const offload of [false, true]) {
  store(`a connection destroyed while its lookup runs ignores the late answer; the server serves the next one${offload ? ' (handshakeOffload)' : ''}`, async () => {
    const map = mapStore();
    let release: ((v: Buffer | undefined) => void) | undefined;
    let asked: (() => void) | undefined;
    const slow = recorded({
      ...map,
      get: (id) =>
        new Promise<Buffer | undefined>((resolve) => {
          release = () => resolve(map.map.get(id.toString('hex')));
          asked?.();
        }),
    });
    const a = await server({ sessionStore: slow, sessionStoreTimeout: 5000, handshakeOffload: offload });
    const first = await visit({ ...rxtls12, port: a.port });
    await slow.settled();
    const waiting = new Promise<void>((resolve) => (asked = resolve));
    const client = connectTls({ ...rxtls12, port: a.port, session: first.session!, transport: 'js' });
    const doomed = new Promise<string>((resolve) => {
      client.onsecure = () => resolve('completed');
      client.onclose = (err) => resolve(err?.name ?? 'closed');
    });
    await withTimeout(waiting, 10_000, 'lookup');
    // The JS transport hands the engine out before its handshake: the server
    // destroys it. A native connection has no JS face until secure: the
    // client leaves (unheard while reading waits for the store).
    if (transport === 'js') a.engines.at(-1)!.destroy();
    else client.destroy();
    assert.is.not(await withTimeout(doomed, 10_000, 'destroyed visit'), 'completed');
    release!(undefined);
    release = undefined;
    // The answer arrives after the connection (and its native session) is gone.
    await new Promise((r) => setImmediate(r));
    asked = () => release!(undefined);
    const next = await withTimeout(visit({ ...rxtls12, port: a.port, session: first.session! }), 10_000, 'next visit');
    assert.match(next.answer, /^resumed /);
  });
}

store('a peer that sends on while its lookup runs: the server stops reading (the kernel holds it) and the handshake timeout ends the wait', async () => {
  const map = mapStore();
  const hanging = recorded({ ...map, get: () => new Promise<Buffer | undefined>(() => {}) });
  const a = await server({ sessionStore: hanging, sessionStoreTimeout: 30_000, handshakeTimeout: 500 });
  const first = await visit({ ...rxtls12, port: a.port });
  await hanging.settled();
  // A ClientHello that asks to resume, from a native client session, then junk.
  const ctx = new binding.Context(binding.methods.TLS_client_method);
  ctx.setProtocolVersions(0, 0x0303);
  const out: SessionOut = [undefined, undefined, undefined];
  const client = new binding.Session(ctx, false, out, { session: first.session!, verifyPeer: false });
  assert.ok(client.cycle() & CycleFlag.EncOut);
  const hello = out[1]!;
  client.free();
  const socket = net.connect(a.port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(hello);
  await withTimeout(
    (async () => {
      while (hanging.gets.length === 0) await sleep(5);
    })(),
    10_000,
    'lookup',
  );
  const junk = Buffer.alloc(64 * 1024, 0x17);
  for (let i = 0; i < 64 && !socket.destroyed; i++) socket.write(junk);
  await withTimeout(closed, 10_000, 'peer dropped');
  assert.is(a.errors.length, 1);
  // Not a protocol error: nothing of the junk reached OpenSSL while the lookup ran.
  assert.match(a.errors[0]!.message, /handshake timed out after 500 ms/);
  const engine = a.engines.at(-1);
  // The native transport's reads are not counted in JS; its timeout above shows the junk stayed unread.
  if (engine instanceof TlsEngine) {
    const read = engine.socket.bytesRead;
    assert.ok(read > 0 && read < 256 * 1024, `the server read ${read} of ${hello.length + 64 * junk.length} bytes`);
  }
});

store('the server shut down while a lookup is pending: the handshake is dropped, the late answer ignored, nothing leaks', async () => {
  const map = mapStore();
  let release: (() => void) | undefined;
  let asked: (() => void) | undefined;
  const slow = recorded({
    ...map,
    get: (id) =>
      new Promise<Buffer | undefined>((resolve) => {
        release = () => resolve(map.map.get(id.toString('hex')));
        asked?.();
      }),
  });
  const a = await startOn(transport, { sessionStore: slow, sessionStoreTimeout: 5000 });
  servers.splice(servers.indexOf(a), 1);
  asked = () => release!();
  const first = await visit({ ...rxtls12, port: a.port });
  await slow.settled();
  const waiting = new Promise<void>((resolve) => (asked = resolve));
  const pending = visit({ ...rxtls12, port: a.port, session: first.session! }).then(
    () => 'completed',
    (err: Error) => err.name,
  );
  await withTimeout(waiting, 10_000, 'lookup');
  await withTimeout(a.close(), 10_000, 'server close');
  assert.is.not(await withTimeout(pending, 10_000, 'dropped visit'), 'completed');
  release!();
  await new Promise((r) => setImmediate(r));
  // No native connection left once libuv ran the close callbacks.
  if (transport === 'native')
    await withTimeout(
      (async () => {
        while ((binding.debugCounters().TcpConnection ?? 0) > 0) await sleep(10);
      })(),
      5_000,
      'native connections freed',
    );
});

store.run();
}
