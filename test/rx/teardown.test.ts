// Teardown and error routing: unsubscribing leaves nothing behind, errors go
// to the subscriber they belong to, a garbage client never stops listen(),
// and a source that completes before its teardown exists (the edge tRPC's
// observable guards) ends cleanly.
import * as net from 'node:net';

import { connectTls, ErrorCode, type TlsError } from '@rxtls/core';
import { connect, listen, read, write, writeFrom, type ListenOptions, type TlsConnection } from '@rxtls/rx';
import { EMPTY, firstValueFrom, lastValueFrom, mergeMap, of, reduce, throwError, toArray, type Subscription } from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { serve } from './fixtures/serve.js';
import { TRANSPORTS } from './fixtures/transports.js';

const ca = () => pki().ca.cert;
const client = (port: number) => firstValueFrom(connect({ port, ca: ca() }));
const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value, error: undefined as unknown }),
    (error: unknown) => ({ value: undefined, error }),
  );
async function until(cond: () => boolean, label: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${label}: not reached in ${ms} ms`);
    await sleep(10);
  }
}
const resources = () => process.getActiveResourcesInfo().sort().join(',');

/** listen() whose raw connections the test takes one by one. */
async function accepting(extra: Partial<ListenOptions> = {}): Promise<{ port: number; next(): Promise<TlsConnection>; sub: Subscription; events: string[] }> {
  const queue: TlsConnection[] = [];
  const waiters: ((c: TlsConnection) => void)[] = [];
  const events: string[] = [];
  let port = 0;
  let sub!: Subscription;
  await new Promise<void>((resolve) => {
    sub = listen({ ...pki().server, ...extra, onListening: (a) => ((port = a.port), resolve()) }).subscribe({
      next: (c) => (waiters.length ? waiters.shift()!(c) : queue.push(c)),
      error: (e) => events.push(`error ${e}`),
      complete: () => events.push('complete'),
    });
  });
  return { port, sub, events, next: () => new Promise((r) => (queue.length ? r(queue.shift()!) : waiters.push(r))) };
}

// ---
const Teardown = suite('teardown');

Teardown('after unsubscribing everything no socket, server or timer is left', async () => {
  pki();
  await sleep(50);
  const baseline = resources();
  // An echo server, five clients in mid-transfer, one silent TCP client
  // still in its handshake, one more client still handshaking.
  const echo = await serve({ ...pki().server, handshakeTimeout: 30_000, idleTimeout: 30_000 }, (c) => read(c).pipe(write(c)));
  const block = Buffer.alloc(64 * 1024, 7);
  function* forever() {
    for (;;) yield block;
  }
  const clients: Subscription[] = [];
  let echoed = 0;
  for (let i = 0; i < 5; i++) {
    clients.push(
      connect({ port: echo.port, ca: ca(), idleTimeout: 30_000 })
        .pipe(mergeMap((c) => [writeFrom(c, forever()), read(c)]), mergeMap((o) => o))
        .subscribe({ next: (v) => typeof v !== 'number' && (echoed += v.length), error: () => {} }),
    );
  }
  const silent = net.connect(echo.port, '127.0.0.1');
  silent.on('error', () => {});
  await until(() => echoed > 5 * 1024 * 1024, 'echo traffic');
  const late = connect({ port: echo.port, ca: ca() }).subscribe({ error: () => {} });
  assert.is.not(resources(), baseline);

  echo.stop();
  for (const c of clients) c.unsubscribe();
  late.unsubscribe();
  silent.destroy();
  await until(() => resources() === baseline, `resources back to baseline (${resources()} vs ${baseline})`, 5_000);
  assert.equal(echo.errors, []);
});

Teardown('unsubscribing listen() alone stops accepting; emitted connections finish', async () => {
  const srv = await accepting();
  const [c, s] = await Promise.all([client(srv.port), srv.next()]);
  srv.sub.unsubscribe();
  // No new connection is accepted…
  const refused = (await settle(client(srv.port))).error as TlsError;
  assert.is(refused.code, ErrorCode.Socket);
  // …but the one emitted goes on.
  const [, got] = await Promise.all([
    lastValueFrom(read(s).pipe(write(s))),
    lastValueFrom(of('still here').pipe(write(c))).then(() => lastValueFrom(read(c).pipe(toArray()))),
  ]);
  assert.is(Buffer.concat(got).toString(), 'still here');
  assert.equal(srv.events, []);
});

Teardown.run();

// ---
const Errors = suite('error routing');

Errors('a truncated connection errors its own reader only', async () => {
  const srv = await accepting();
  try {
    const [ca1, sa] = await Promise.all([client(srv.port), srv.next()]);
    const [cb, sb] = await Promise.all([client(srv.port), srv.next()]);
    const readA = settle(lastValueFrom(read(sa).pipe(toArray())));
    const readB = settle(lastValueFrom(read(sb).pipe(toArray())));
    // a's client vanishes mid-stream (reading, so its close is no reset).
    const ra = read(ca1).subscribe({ error: () => {} });
    const wa = lastValueFrom(of('half').pipe(write(cb)));
    await wa;
    await sleep(50);
    ra.unsubscribe(); // destroys a's client connection: no close_notify
    const a = await readA;
    assert.is((a.error as TlsError | undefined)?.code, ErrorCode.Truncated);
    const b = await readB;
    assert.is(b.error, undefined);
    assert.is(Buffer.concat(b.value!).toString(), 'half');
    assert.equal(srv.events, [], 'listen saw no error');
    cb.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

Errors('a failed connect errors its subscriber, not its neighbours', async () => {
  const srv = await accepting();
  const other = await serve({ ...pki().selfSigned }, (c) => read(c).pipe(write(c)));
  try {
    const [good, bad] = await Promise.all([settle(client(srv.port)), settle(client(other.port))]);
    assert.is(good.error, undefined);
    assert.is((bad.error as TlsError).code, ErrorCode.CertVerify);
    good.value!.destroy();
    assert.equal(srv.events, []);
    assert.equal(other.errors, []);
  } finally {
    srv.sub.unsubscribe();
    other.stop();
  }
});

Errors('garbage clients do not stop listen(): good clients around them are served', async () => {
  const clientErrors: TlsError[] = [];
  const echo = await serve({ ...pki().server, onClientError: (e) => clientErrors.push(e) }, (c) => read(c).pipe(write(c)));
  try {
    for (let i = 0; i < 10; i++) {
      const raw = net.connect(echo.port, '127.0.0.1', () => raw.end(Buffer.alloc(600, i)));
      raw.on('error', () => {});
      const c = await client(echo.port);
      const [, got] = await Promise.all([lastValueFrom(of(`msg ${i}`).pipe(write(c))), lastValueFrom(read(c).pipe(toArray()))]);
      assert.is(Buffer.concat(got).toString(), `msg ${i}`);
    }
    await until(() => clientErrors.length === 10, 'ten client errors');
    assert.ok(clientErrors.every((e) => e.code === ErrorCode.Handshake || e.code === ErrorCode.Protocol), clientErrors.map((e) => e.code).join());
    assert.equal(echo.errors, []);
  } finally {
    echo.stop();
  }
});

Errors('a throwing onClientError errors listen() instead of escaping', async () => {
  const errors: unknown[] = [];
  let port = 0;
  const sub = await new Promise<Subscription>((resolve) => {
    const s: Subscription = listen({
      ...pki().server,
      onListening: (a) => ((port = a.port), resolve(s)),
      onClientError: () => {
        throw new Error('callback bug');
      },
    }).subscribe({ error: (e) => errors.push(e) });
  });
  const raw = net.connect(port, '127.0.0.1', () => raw.end('nope'));
  raw.on('error', () => {});
  await until(() => errors.length === 1, 'listen errored');
  assert.match(String(errors[0]), /callback bug/);
  sub.unsubscribe();
});

Errors.run();

// ---
const Sync = suite('synchronous sources (the tRPC edge)');

for (const transport of TRANSPORTS)
  Sync(`a read that completes inside subscribe() keeps the connection writable [${transport}]`, async () => {
    const srv = await accepting({ transport });
    try {
      // A core client queues data and close_notify before its handshake is
      // done: they leave with its Finished, and reach the server in the same
      // read as the end of the handshake, before anyone can call read().
      const peer = connectTls({ host: 'localhost', port: srv.port, ca: ca(), allowHalfOpen: true });
      const reply = new Promise<{ data: string; error: unknown }>((resolve) => {
        let data = '';
        let error: unknown;
        peer.ondata = (b) => (data += b);
        peer.onerror = (e) => (error = e);
        peer.onend = () => resolve({ data, error });
        peer.onclose = (e) => resolve({ data, error: error ?? e });
      });
      peer.write('ping');
      peer.end();
      const s = await srv.next();
      await sleep(100);
      let completed = false;
      let got = '';
      const reading = new Promise<void>((resolve) =>
        read(s).subscribe({ next: (b) => (got += b), complete: () => ((completed = true), resolve()) }),
      );
      // The JS transport decrypted it all with the end of the handshake: the
      // read completes inside subscribe(). The native one left it in the addon
      // while the connection was paused, and delivers it once read() resumes it.
      if (transport === 'js') assert.ok(completed, 'completed synchronously');
      await withTimeout(reading, 5_000, 'read');
      assert.is(got, 'ping');
      // The teardown that ran at once must not have destroyed the connection.
      await withTimeout(lastValueFrom(of('pong').pipe(write(s))), 5_000, 'reply');
      const r = await withTimeout(reply, 5_000, 'peer reply');
      assert.is(r.error, undefined);
      assert.is(r.data, 'pong');
    } finally {
      srv.sub.unsubscribe();
    }
  });

Sync('write() of EMPTY or of() sends close_notify: the peer completes cleanly', async () => {
  const srv = await accepting();
  try {
    for (const source of [EMPTY, of('a', 'b')]) {
      const [c, s] = await Promise.all([client(srv.port), srv.next()]);
      const peer = settle(lastValueFrom(read(c).pipe(toArray())));
      const counts = await lastValueFrom(source.pipe(write(s), toArray()));
      const got = await peer;
      assert.is(got.error, undefined);
      assert.is(Buffer.concat(got.value!).toString(), counts.length ? 'ab' : '');
      c.destroy();
    }
  } finally {
    srv.sub.unsubscribe();
  }
});

Sync('a source that errors synchronously errors write() and cuts the connection', async () => {
  const srv = await accepting();
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    const peer = settle(lastValueFrom(read(c).pipe(reduce((n, b) => n + b.length, 0))));
    const err = await settle(lastValueFrom(throwError(() => new Error('source failed')).pipe(write(s))));
    assert.match(String(err.error), /source failed/);
    const got = await peer;
    assert.ok(got.error !== undefined, 'the peer must not see a clean end');
  } finally {
    srv.sub.unsubscribe();
  }
});

Sync.run();
