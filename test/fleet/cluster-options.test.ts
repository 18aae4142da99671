// The native server's side of a cluster, in one process: reusePort (and its
// refusal on the JS transport), ticketSecret on native servers, proxyProtocol
// refused on native, and shutdown(graceMs): stop accepting, let connections
// finish, destroy the rest (open or handshaking) at the deadline.
import * as net from 'node:net';

import { createTlsServer, InvalidArgumentError, runWorkers, type NativeTlsServer } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { connectNativeTls, secure, startNative } from '../helpers/native-transport.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const test = suite('cluster options');
const secret = 'ab'.repeat(32);

function listen(server: NativeTlsServer, port: number): Promise<Error | undefined> {
  return withTimeout(
    new Promise((resolve) => {
      server.once('error', resolve);
      server.listen(port, '127.0.0.1', () => resolve(undefined));
    }),
    5_000,
    'listen',
  );
}

test('reusePort: two native servers bind one port; without it the second gets EADDRINUSE', async () => {
  const opts = { transport: 'native' as const, cert: p.server.cert, key: p.server.key };
  const a = createTlsServer({ ...opts, reusePort: true }, (c) => c.end());
  assert.is(await listen(a, 0), undefined);
  const port = a.address()!.port;
  const b = createTlsServer({ ...opts, reusePort: true }, (c) => c.end());
  assert.is(await listen(b, port), undefined, 'a second SO_REUSEPORT listener on the same port');
  assert.is(b.address()!.port, port);
  const c = createTlsServer({ ...opts }, (x) => x.end());
  const err = (await listen(c, port)) as Error & { syscallCode?: string };
  assert.ok(err, 'a listener without reusePort is refused');
  assert.is(err.syscallCode, 'EADDRINUSE');
  await Promise.all([a.shutdown(0), b.shutdown(0)]);
});

test('reusePort is refused on the JS transport and checked on the native one', () => {
  assert.throws(
    () => createTlsServer({ transport: 'js', cert: p.server.cert, key: p.server.key, reusePort: true }, () => undefined),
    (e: Error) => e instanceof InvalidArgumentError && /transport: "native"/.test(e.message),
  );
  assert.throws(
    () => createTlsServer({ transport: 'native', cert: p.server.cert, key: p.server.key, reusePort: 'yes' as never }, () => undefined),
    (e: Error) => e instanceof InvalidArgumentError,
  );
});

test('proxyProtocol and sessionStore run on the native transport, with the JS transport\'s option checks', () => {
  const base = { transport: 'native' as const, cert: p.server.cert, key: p.server.key };
  const store = { get: async () => undefined, set: async () => {}, delete: async () => {} };
  const server = createTlsServer({ ...base, proxyProtocol: { trusted: ['127.0.0.1', '10.0.0.0/8'] }, sessionStore: store }, () => undefined);
  assert.is(server.listening, false);
  const invalid = (e: Error) => e instanceof InvalidArgumentError;
  assert.throws(() => createTlsServer({ ...base, proxyProtocol: { trusted: [] } }, () => undefined), invalid);
  assert.throws(() => createTlsServer({ ...base, proxyProtocol: { trusted: ['::1'], timeout: -1 } }, () => undefined), invalid);
  assert.throws(() => createTlsServer({ ...base, sessionStore: {} as never }, () => undefined), invalid);
  assert.throws(() => createTlsServer({ ...base, sessionStore: store, sessionStoreTimeout: 0 }, () => undefined), invalid);
});

test('ticketSecret: two native servers on different ports resume each other\'s tickets', async () => {
  const a = await startNative({ cert: p.server.cert, key: p.server.key, ticketSecret: secret }, (c) => c.end());
  const b = await startNative({ cert: p.server.cert, key: p.server.key, ticketSecret: secret }, (c) => c.end());
  const other = await startNative({ cert: p.server.cert, key: p.server.key, ticketSecret: 'cd'.repeat(32) }, (c) => c.end());
  try {
    const run = (port: number, session?: Buffer) =>
      withTimeout(
        new Promise<{ resumed: boolean; session: Buffer | null }>((resolve, reject) => {
          const c = connectNativeTls({ host: 'localhost', port, ca: p.ca.cert, ...(session ? { session } : {}) });
          let resumed = false;
          let got: Buffer | null = null;
          c.onsecure = () => (resumed = c.info().resumed);
          c.onsession = (s) => (got = s);
          c.onend = () => c.end();
          c.onclose = (e) => (e ? reject(e) : resolve({ resumed, session: got }));
        }),
        10_000,
        'visit',
      );
    const first = await run(a.port);
    assert.ok(first.session);
    assert.is((await run(b.port, first.session!)).resumed, true, 'b resumes a\'s ticket');
    assert.is((await run(other.port, first.session!)).resumed, false, 'another secret does not');
  } finally {
    await Promise.all([a.close(), b.close(), other.close()]);
  }
});

test('shutdown(graceMs): refuses new connections, lets one finish, destroys the rest at the deadline', async () => {
  const srv = await startNative({ cert: p.server.cert, key: p.server.key });
  const { server, port } = srv;
  const finishing = await secure(connectNativeTls({ host: 'localhost', port, ca: p.ca.cert }));
  const idle = await secure(connectNativeTls({ host: 'localhost', port, ca: p.ca.cert }));
  // A TCP connection that never starts its handshake.
  const raw = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => raw.once('connect', resolve));
  const rawClosed = new Promise((resolve) => raw.once('close', resolve));
  raw.on('error', () => undefined);
  await withTimeout(
    (async () => {
      while (server.connections < 3) await new Promise((r) => setTimeout(r, 10));
    })(),
    5_000,
    'three connections',
  );
  const idleClosed = new Promise((resolve) => (idle.onclose = resolve));
  let shutDown = false;
  const done = server.shutdown(1500).then(() => (shutDown = true));
  // Stopped accepting at once.
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.is(refused, 'ECONNREFUSED');
  // An open connection still works within the grace period, and finishes.
  const echoed = await withTimeout(
    new Promise<string>((resolve) => {
      finishing.ondata = (d) => resolve(d.toString());
      finishing.write('still here');
    }),
    5_000,
    'echo during shutdown',
  );
  assert.is(echoed, 'still here');
  finishing.end();
  assert.not.ok(shutDown, 'waits for the other connections');
  await withTimeout(done, 10_000, 'shutdown');
  await withTimeout(Promise.all([idleClosed, rawClosed]), 5_000, 'destroyed at the deadline');
  assert.is(server.connections, 0);
  await server.shutdown(0); // again: resolves at once
});

test('shutdown validates graceMs', async () => {
  const srv = await startNative({ cert: p.server.cert, key: p.server.key });
  for (const bad of [-1, 1.5, 'soon', 2 ** 31])
    assert.throws(() => srv.server.shutdown(bad as never), (e: Error) => e instanceof InvalidArgumentError);
  await srv.server.shutdown(0);
  // A server that never listened: resolves, and 'close' fires (the ticket rotation stops on it).
  const idle = createTlsServer({ transport: 'native', cert: p.server.cert, key: p.server.key, ticketSecret: secret }, () => undefined);
  let closed = 0;
  idle.on('close', () => closed++);
  await withTimeout(idle.shutdown(0), 5_000, 'never-listened shutdown');
  await idle.shutdown(0);
  assert.is(closed, 1);
});

test('runWorkers checks its options before forking anything', () => {
  for (const bad of [{ workers: 0 }, { workers: 1.5 }, { workers: 2, graceMs: -1 }, { workers: 2, restartDelayMs: 'soon' }, { workers: 2, ticketSecret: 'abcd' }])
    assert.throws(() => runWorkers({ handleSignals: false, ...bad } as never), (e: Error) => e instanceof InvalidArgumentError, JSON.stringify(bad));
});

test.run();
