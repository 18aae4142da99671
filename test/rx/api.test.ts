// listen / connect / read / write: what each promises, against each other
// and against raw TCP peers.
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';

import { CertificateError, ErrorCode, StateError, TlsError, TLSServerContext } from '@rxtls/core';
import { connect, listen, read, write, writeFrom, type TlsConnection } from '@rxtls/rx';
import { NEVER, concat, firstValueFrom, lastValueFrom, of, reduce, toArray, type Observable, type Subscription } from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const MiB = 1024 * 1024;

/** A listen() whose connections the test handles itself. */
interface Server {
  port: number;
  conns: TlsConnection[];
  clientErrors: TlsError[];
  streamEnded: string | undefined;
  next(): Promise<TlsConnection>;
  sub: Subscription;
}

function startServer(extra: Partial<Parameters<typeof listen>[0]> = {}): Promise<Server> {
  return new Promise((resolve, reject) => {
    const waiters: ((c: TlsConnection) => void)[] = [];
    const s: Server = {
      port: 0,
      conns: [],
      clientErrors: [],
      streamEnded: undefined,
      next: () => new Promise((r) => (s.conns.length > 0 ? r(s.conns.shift()!) : waiters.push(r))),
      sub: undefined as unknown as Subscription,
    };
    s.sub = listen({
      ...pki().server,
      onListening: (a) => ((s.port = a.port), resolve(s)),
      onClientError: (err) => s.clientErrors.push(err),
      ...extra,
    }).subscribe({
      next: (c) => (waiters.length > 0 ? waiters.shift()!(c) : s.conns.push(c)),
      error: (err) => ((s.streamEnded = `error: ${err}`), reject(err)),
      complete: () => (s.streamEnded = 'complete'),
    });
  });
}

const client = (port: number, extra: object = {}) => firstValueFrom(connect({ port, ca: pki().ca.cert, ...extra }));
const text = (conn: TlsConnection) => lastValueFrom(read(conn).pipe(toArray())).then((c) => Buffer.concat(c).toString());
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => assert.unreachable('expected an error'),
    (err: unknown) => err,
  );
/** A promise's outcome, with its rejection handled from the start. */
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

// ---
const Listen = suite('listen');

Listen('port 0 binds a free port, reported by onListening; connections carry their facts', async () => {
  const srv = await startServer();
  try {
    assert.ok(srv.port > 0);
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    assert.is(s.remoteAddress, '127.0.0.1');
    assert.is(s.remotePort, c.localPort);
    assert.is(s.isServer, true);
    assert.is(c.isServer, false);
    assert.is(c.protocol, 'TLSv1.3');
    assert.is(c.cipher, s.cipher);
    assert.ok(c.cipher.length > 0);
    assert.is(c.peerCertificate?.subject.CN, 'localhost');
    assert.is(s.peerCertificate, null);
    assert.is(s.servername, 'localhost');
    // Nothing of the engine is reachable from the connection.
    assert.not.ok(Object.values(c).some((v) => v && typeof v === 'object' && 'socket' in v));
    c.destroy();
    s.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

Listen('a second subscription to one listen() is a second server (cold)', async () => {
  const a = await startServer();
  const b = await startServer();
  try {
    assert.is.not(a.port, b.port);
  } finally {
    a.sub.unsubscribe();
    b.sub.unsubscribe();
  }
});

Listen('a port in use errors the stream; missing cert errors it at once', async () => {
  const a = await startServer();
  try {
    // Native transport: a SocketError with the OS code; JS transport: Node's own error.
    const err = (await errorOf(startServer({ port: a.port }))) as { code?: string; syscallCode?: string };
    assert.is(err.syscallCode ?? err.code, 'EADDRINUSE');
  } finally {
    a.sub.unsubscribe();
  }
  const err = (await errorOf(firstValueFrom(listen({ port: 0 })))) as TlsError;
  assert.is(err.code, ErrorCode.InvalidArgument);
  const bad = (await errorOf(firstValueFrom(listen({ port: 70000, ...pki().server })))) as TlsError;
  assert.match(bad.message, /"port"/);
});

Listen('transport: an unknown one errors listen() and connect() at once; each named one serves the other', async () => {
  for (const o of [listen({ ...pki().server, transport: 'tcp' as 'js' }), connect({ port: 1, transport: 'uv' as 'js' })]) {
    const err = (await errorOf(firstValueFrom(o as Observable<unknown>))) as TlsError;
    assert.is(err.code, ErrorCode.InvalidArgument);
    assert.match(err.message, /"transport"/);
  }
  for (const [server, clientSide] of [
    ['js', 'native'],
    ['native', 'js'],
  ] as const) {
    const srv = await startServer({ transport: server });
    try {
      const [c, s] = await Promise.all([client(srv.port, { transport: clientSide }), srv.next()]);
      assert.is(s.remotePort, c.localPort);
      await Promise.all([lastValueFrom(of(`${clientSide} to ${server}`).pipe(write(c))), text(s).then((t) => assert.is(t, `${clientSide} to ${server}`))]);
      c.destroy();
      s.destroy();
    } finally {
      srv.sub.unsubscribe();
    }
  }
});

Listen('garbage and failed handshakes go to onClientError; the stream goes on', async () => {
  const srv = await startServer({ handshakeTimeout: 500 });
  try {
    // Not TLS at all.
    const raw = net.connect(srv.port, '127.0.0.1', () => raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    raw.on('error', () => {});
    // A client that does not trust the server: it aborts the handshake.
    const untrusting = await errorOf(firstValueFrom(connect({ port: srv.port })));
    assert.instance(untrusting, CertificateError);
    // A client that connects and says nothing: the handshake times out.
    const silent = net.connect(srv.port, '127.0.0.1');
    silent.on('error', () => {});
    await until(() => srv.clientErrors.length >= 3, 'three client errors');
    const codes = srv.clientErrors.map((e) => e.code).sort();
    assert.ok(codes.includes(ErrorCode.Timeout), codes.join());
    assert.ok(codes.filter((c) => c === ErrorCode.Handshake || c === ErrorCode.Protocol).length >= 2, codes.join());
    raw.destroy();
    silent.destroy();
    // …and a good client is still served.
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    assert.is(srv.streamEnded, undefined);
    c.destroy();
    s.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

Listen('a context from @rxtls/core works in place of cert/key', async () => {
  const ctx = new TLSServerContext();
  ctx.load_certs(pki().server.cert, pki().server.key);
  const srv = await startServer({ context: ctx, cert: undefined, key: undefined });
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    await Promise.all([lastValueFrom(of('hi').pipe(write(c))), text(s).then((t) => assert.is(t, 'hi'))]);
    c.destroy();
    s.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

Listen.run();

// ---
const Connect = suite('connect');

Connect('an untrusted, expired or misnamed server errors with the verify reason', async () => {
  const { selfSigned, expired, otherHost } = pki();
  for (const [certs, reason] of [
    [selfSigned, /self.signed/],
    [expired, /expired/],
    [otherHost, /mismatch/i],
  ] as const) {
    const srv = await startServer({ cert: certs.cert, key: certs.key });
    try {
      const err = (await errorOf(client(srv.port))) as CertificateError;
      assert.instance(err, CertificateError);
      assert.ok(err.verifyCode! > 0);
      assert.match(err.verifyMessage ?? '', reason);
      assert.is(srv.streamEnded, undefined);
    } finally {
      srv.sub.unsubscribe();
    }
  }
});

Connect('a refused connection errors with a SocketError', async () => {
  const srv = await startServer();
  const port = srv.port;
  srv.sub.unsubscribe();
  const err = (await errorOf(client(port))) as TlsError;
  assert.is(err.code, ErrorCode.Socket);
});

Connect('unsubscribing before the handshake aborts it and closes the socket', async () => {
  // A TCP server that accepts and never answers: the handshake cannot finish.
  const accepted: net.Socket[] = [];
  const closed: net.Socket[] = [];
  const mute = net.createServer((sock) => {
    accepted.push(sock);
    sock.resume(); // read (and drop) the ClientHello, so the close is seen
    sock.on('error', () => {});
    sock.on('close', () => closed.push(sock));
  });
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  try {
    const port = (mute.address() as net.AddressInfo).port;
    const sub = connect({ port, ca: pki().ca.cert }).subscribe({
      next: () => assert.unreachable('no connection after unsubscribe'),
      error: (err) => assert.unreachable(String(err)),
    });
    await until(() => accepted.length === 1, 'the client connected');
    sub.unsubscribe();
    await until(() => closed.length === 1, 'the client socket closed');
  } finally {
    mute.close();
  }
});

Connect.run();

// ---
const ReadWrite = suite('read and write');

ReadWrite('write emits the bytes of each chunk; read completes on close_notify', async () => {
  const srv = await startServer();
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    const [written, got] = await Promise.all([
      lastValueFrom(of('abc', Buffer.from([1, 2]), 'é', new Uint8Array([7])).pipe(write(c), toArray())),
      lastValueFrom(read(s).pipe(toArray())),
    ]);
    assert.equal(written, [3, 2, 2, 1]);
    assert.equal([...Buffer.concat(got)], [...Buffer.from('abc'), 1, 2, ...Buffer.from('é'), 7]);
    s.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('a second reader or writer errors with a StateError', async () => {
  const srv = await startServer();
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    const first = read(s).subscribe({ error: () => {} });
    const err = await errorOf(firstValueFrom(read(s)));
    assert.instance(err, StateError);
    assert.match(String(err), /one reader/);
    const w = writeFrom(c, ['x']).subscribe({ error: () => {} });
    const werr = await errorOf(lastValueFrom(of('y').pipe(write(c))));
    assert.instance(werr, StateError);
    assert.match(String(werr), /one writer/);
    w.unsubscribe();
    first.unsubscribe();
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('a chunk of the wrong type errors write and destroys the connection', async () => {
  const srv = await startServer();
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    const err = (await errorOf(lastValueFrom(of(42 as unknown as string).pipe(write(c))))) as TlsError;
    assert.is(err.code, ErrorCode.InvalidArgument);
    // The peer sees the stream cut: truncation, not a clean end.
    const rerr = (await errorOf(text(s))) as TlsError;
    assert.ok(rerr.code === ErrorCode.Truncated || rerr.code === ErrorCode.Socket, rerr.code);
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('truncation errors read, unless allowTruncation', async () => {
  const srv = await startServer();
  try {
    for (const allowTruncation of [false, true]) {
      const [c, s] = await Promise.all([client(srv.port), srv.next()]);
      const reading = settle(lastValueFrom(read(s, { allowTruncation }).pipe(toArray())));
      // The client reads too (so nothing unread makes its close a reset),
      // writes without ending, then its socket goes without close_notify.
      const clientRead = lastValueFrom(read(c).pipe(toArray()));
      const writing = concat(of('partial'), NEVER).pipe(write(c)).subscribe({ error: () => {} });
      await sleep(100);
      writing.unsubscribe();
      assert.equal(await clientRead, [], 'a local close completes the local reader');
      const outcome = await reading;
      if (allowTruncation) assert.is(Buffer.concat(outcome.value!).toString(), 'partial');
      else assert.is((outcome.error as TlsError).code, ErrorCode.Truncated);
    }
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('data and close_notify that came before read() are kept for it', async () => {
  const srv = await startServer();
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    await lastValueFrom(of('early', ' bird').pipe(write(c)));
    await sleep(100);
    assert.is(await text(s), 'early bird');
    s.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('close() sends close_notify: the peer read completes cleanly', async () => {
  const srv = await startServer();
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    const reading = text(c);
    const w = writeFrom(s, ['bye']).subscribe();
    await sleep(50);
    s.close();
    assert.is(await reading, 'bye');
    await until(() => s.closed, 'server side closed');
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('close() after more than the socket takes: the peer, reading late, still gets it all and a clean end', async () => {
  const srv = await startServer();
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    const payload = randomBytes(8 * MiB);
    // Unpausable: what the socket cannot take waits in the connection's buffer.
    of(payload).pipe(write(s)).subscribe({ error: () => {} });
    s.close();
    await sleep(100);
    assert.not.ok(s.closed, 'waits for its buffer to leave');
    const got = Buffer.concat(await withTimeout(lastValueFrom(read(c).pipe(toArray())), 20_000, 'read'));
    assert.ok(got.equals(payload), `got ${got.length} of ${payload.length} bytes`);
    await until(() => s.closed, 'server side closed');
    c.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('idle timeout destroys a silent connection with a TimeoutError', async () => {
  const srv = await startServer({ idleTimeout: 200 });
  try {
    const [c, s] = await Promise.all([client(srv.port), srv.next()]);
    const err = (await errorOf(text(s))) as TlsError;
    assert.is(err.code, ErrorCode.Timeout);
    assert.match(err.message, /idle/);
    c.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite('backpressure: read(a).pipe(write(b)) stops pulling from a while b is not read', async () => {
  const srv = await startServer();
  try {
    // client a -> server (sa -> sb) -> client b; b reads nothing at first.
    const [a, sa] = await Promise.all([client(srv.port), srv.next()]);
    const [b, sb] = await Promise.all([client(srv.port), srv.next()]);
    const TOTAL = 128 * MiB;
    const block = randomBytes(MiB);
    let pulled = 0;
    function* source() {
      for (; pulled < TOTAL; pulled += 64 * 1024) yield block.subarray(pulled % MiB, (pulled % MiB) + 64 * 1024);
    }
    const relay = lastValueFrom(read(sa).pipe(write(sb), reduce((n, c) => n + c, 0)));
    const sending = lastValueFrom(writeFrom(a, source()).pipe(reduce((n, c) => n + c, 0)));
    // Wait until the sender stalls: nothing pulled for 300 ms.
    let last = -1;
    while (pulled !== last) {
      last = pulled;
      await sleep(300);
    }
    // Socket buffers in the kernel hold a few MiB each; nothing else may.
    assert.ok(pulled < 40 * MiB, `pulled ${pulled / MiB} MiB although b is not read`);
    // Now read b: everything arrives, in order, and the pipeline ends cleanly.
    let received = 0;
    let mismatch = false;
    const reading = lastValueFrom(
      read(b).pipe(
        reduce((n, c) => {
          if (!c.equals(block.subarray(n % MiB, (n % MiB) + c.length)) && c.length <= MiB - (n % MiB)) mismatch = true;
          return (received = n + c.length);
        }, 0),
      ),
    );
    assert.is(await withTimeout(sending, 40_000, 'sending'), TOTAL);
    assert.is(await withTimeout(relay, 40_000, 'relay'), TOTAL);
    assert.is(await withTimeout(reading, 40_000, 'reading'), TOTAL);
    assert.is(received, TOTAL);
    assert.not.ok(mismatch, 'relayed bytes differ');
    a.destroy();
  } finally {
    srv.sub.unsubscribe();
  }
});

ReadWrite.run();
