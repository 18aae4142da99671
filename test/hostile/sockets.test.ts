// Hostile bytes through real sockets: while garbage, truncated records,
// oversized records and peers that close mid-record hit an rxtls server, good
// connections beside them complete their transfers with SHA-256 intact; each
// hostile peer costs only its own connection, with a typed error. A TCP close
// without close_notify is a truncation (TruncationError), never a clean end.
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

import {
  connectTls,
  createTlsServer,
  ErrorCode,
  TLSClientContext,
  TruncationError,
  type SecureConnection,
  type TlsError,
  type Transport,
} from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { collect } from '../helpers/engine.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { closeServer, eachTransport, listenLocal, type TlsServer } from '../helpers/transports.js';
import { clientContext, side, take } from './lib/memory.js';
import { rawSocket, rawTlsClient, whenClosed } from './lib/raw-client.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

interface Served {
  transport: Transport;
  port: number;
  /** The error each server-side connection ended with, by the client's port; undefined = clean. */
  outcomes: Map<number, TlsError | undefined>;
  /** Native: the handshake failures ('tlsClientError', which names no peer), in order. */
  handshakeErrors: TlsError[];
  /** Plaintext each server-side connection received, by the client's port. */
  received: Map<number, number>;
  close(): Promise<void>;
}

/**
 * An rxtls echo server that records how each connection ended, by the
 * client's port. On the native transport a connection reaches the handler
 * only once secure: a handshake failure is a 'tlsClientError' that names no
 * peer, kept in order in `handshakeErrors`.
 */
async function echoServer(transport: Transport): Promise<Served> {
  const outcomes = new Map<number, TlsError | undefined>();
  const received = new Map<number, number>();
  const handshakeErrors: TlsError[] = [];
  const engines = new Set<SecureConnection>();
  const options = { cert: pki().server.cert, key: pki().server.key, handshakeTimeout: 5_000 };
  const onConnection = (engine: SecureConnection, port: number) => {
    engines.add(engine);
    received.set(port, 0);
    engine.ondata = (chunk) => {
      received.set(port, received.get(port)! + chunk.length);
      engine.write(chunk);
    };
    engine.onclose = (err) => {
      engines.delete(engine);
      outcomes.set(port, err);
    };
  };
  const server: TlsServer =
    transport === 'js'
      ? createTlsServer({ ...options, transport: 'js' }, (engine) => onConnection(engine, engine.socket.remotePort!))
      : createTlsServer(options, (c) => onConnection(c, c.remotePort!)).on('tlsClientError', (e: TlsError) => handshakeErrors.push(e));
  const port = await listenLocal(server);
  return {
    transport,
    port,
    outcomes,
    handshakeErrors,
    received,
    close: async () => {
      for (const e of engines) e.destroy();
      await closeServer(server);
    },
  };
}

/** A good client: sends `size` random bytes, expects them echoed, closes with close_notify. */
async function goodTransfer(port: number, context: TLSClientContext, size: number): Promise<void> {
  const payload = randomBytes(size);
  const engine = connectTls({ host: 'localhost', port, context });
  const result = collect(engine);
  engine.onsecure = () => {
    // In pieces, as an application writes.
    for (let off = 0; off < size; off += 64 * 1024) engine.write(payload.subarray(off, off + 64 * 1024));
  };
  let got = 0;
  const ondata = engine.ondata!;
  engine.ondata = (chunk) => {
    ondata(chunk);
    got += chunk.length;
    if (got === size) engine.end();
  };
  const { data, clean, error } = await result;
  assert.is(error, undefined, `good connection failed: ${String(error)}`);
  assert.ok(clean, 'good connection ended with close_notify');
  assert.is(data.length, size);
  assert.is(sha256(data), sha256(payload), 'SHA-256 of the echo matches');
}

/** Waits for the next native handshake failure after the first `seen`. */
async function nextHandshakeError(served: Served, seen: number): Promise<TlsError> {
  return withTimeout(
    (async () => {
      while (served.handshakeErrors.length <= seen) await new Promise((r) => setTimeout(r, 10));
      return served.handshakeErrors[seen]!;
    })(),
    10_000,
    'server handshake failure',
  );
}

/** Waits until the server has recorded an outcome for the connection from `localPort`. */
async function outcomeOf(served: Served, localPort: number): Promise<TlsError | undefined> {
  return withTimeout(
    (async () => {
      while (!served.outcomes.has(localPort)) await new Promise((r) => setTimeout(r, 10));
      return served.outcomes.get(localPort);
    })(),
    10_000,
    `server outcome for :${localPort}`,
  );
}

let helloCache: Buffer | undefined;
/** A real ClientHello (one record). */
function clientHello(): Buffer {
  if (!helloCache) {
    const s = side(rawContext(), false);
    helloCache = take(s, s.session.cycle())!;
    s.session.free();
  }
  return helloCache;
}

/**
 * 4 KiB that no TLS parser can read as the start of a record. Raw random bytes
 * sometimes can: a first byte with the high bit set reads as an SSLv2-format
 * hello, and a byte followed by 0x03 as a record header, either claiming a
 * length past 4096, so the server rightly waits for the rest and the verdict
 * becomes a handshake timeout instead of a parse failure.
 */
function garbage(): Buffer {
  const bytes = randomBytes(4096);
  bytes[0] = 0x40 | (bytes[0]! & 0x3f); // 0x40–0x7f: neither SSLv2 nor a content type
  if (bytes[1] === 0x03) bytes[1] = 0x04; // nor a TLS major version
  return bytes;
}

type Kind = 'garbage' | 'half-hello' | 'oversized-before' | 'oversized-after' | 'close-mid-record' | 'close-without-notify';

/** One hostile peer of `kind`; resolves with the server's verdict on it. */
async function hostile(served: Served, kind: Kind): Promise<{ kind: Kind; error: TlsError | undefined; receivedBytes: number }> {
  const port = served.port;
  if (kind === 'garbage' || kind === 'half-hello' || kind === 'oversized-before') {
    const seen = served.handshakeErrors.length;
    const socket = await rawSocket(port);
    const closed = whenClosed(socket);
    const local = socket.localPort!;
    if (kind === 'garbage') socket.write(garbage());
    if (kind === 'half-hello') {
      const hello = clientHello();
      socket.end(hello.subarray(0, hello.length >> 1)); // a truncated record, then FIN
    }
    // A record header that claims 65535 bytes: refused on the header, not buffered.
    if (kind === 'oversized-before') socket.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), randomBytes(200)]));
    // Native: the failure names no peer; these peers come one at a time (see the waves below).
    const error = served.transport === 'js' ? await outcomeOf(served, local) : await nextHandshakeError(served, seen);
    // The server dropped this peer (it never sent FIN for the first and third).
    await withTimeout(closed, 10_000, `${kind}: server closes the connection`);
    return { kind, error, receivedBytes: served.received.get(local) ?? 0 };
  }
  const client = await rawTlsClient(port, rawContext());
  const local = client.socket.localPort!;
  if (kind === 'oversized-after') {
    // A record header past 2^14 + 2048 after a real handshake.
    client.socket.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x48, 0x01]), randomBytes(300)]));
  } else if (kind === 'close-mid-record') {
    const record = client.seal(randomBytes(1000));
    client.socket.end(record.subarray(0, record.length >> 1));
  } else {
    client.socket.end(client.seal('complete record, then FIN without close_notify'));
  }
  const error = await outcomeOf(served, local);
  await withTimeout(client.closed, 10_000, `${kind}: connection closes`);
  client.tls.session.free();
  return { kind, error, receivedBytes: served.received.get(local) ?? 0 };
}

let rawCtx: ReturnType<typeof clientContext> | undefined;
const rawContext = () => (rawCtx ??= clientContext());

const Hostile = suite('hostile peers beside good connections');

eachTransport(Hostile, 'garbage, truncated and oversized records and mid-record closes cost only their own connections', async (transport) => {
  const served = await echoServer(transport);
  const context = new TLSClientContext();
  context.set_verify_locations(pki().ca.cert);
  const kinds: Kind[] = ['garbage', 'half-hello', 'oversized-before', 'oversized-after', 'close-mid-record', 'close-without-notify'];
  try {
    // Good transfers run the whole time…
    const good = Promise.all(Array.from({ length: 6 }, (_, i) => goodTransfer(served.port, context, (1 + i) * 512 * 1024)));
    // …while waves of hostile peers arrive.
    const verdicts: Awaited<ReturnType<typeof hostile>>[] = [];
    // Native: the peers that fail their handshake one after another, so each failure is theirs.
    const beforeHandshake = new Set<Kind>(['garbage', 'half-hello', 'oversized-before']);
    const inTurn = async (ks: Kind[]) => {
      const out = [];
      for (const k of ks) out.push(await hostile(served, k));
      return out;
    };
    for (let wave = 0; wave < 5; wave++) {
      if (transport === 'js') verdicts.push(...(await Promise.all(kinds.map((k) => hostile(served, k)))));
      else {
        const after = kinds.filter((k) => !beforeHandshake.has(k));
        const [early, ...late] = await Promise.all([inTurn(kinds.filter((k) => beforeHandshake.has(k))), ...after.map((k) => hostile(served, k))]);
        verdicts.push(...early, ...late);
      }
    }
    await withTimeout(good, 60_000, 'good transfers');

    const byKind = new Map<Kind, string[]>();
    for (const v of verdicts) {
      assert.ok(v.error, `${v.kind}: the server reported an error`);
      assert.ok(KNOWN_CODES.has(v.error!.code), `${v.kind}: typed error with a stable code (${v.error!.code})`);
      byKind.set(v.kind, [...(byKind.get(v.kind) ?? []), `${v.error!.code}${v.error!.reason ? ` (${v.error!.reason})` : ''}`]);
    }
    for (const [k, codes] of byKind) console.log(`  ${k}: ${[...new Set(codes)].join(', ')}`);
    const codes = (k: Kind) => new Set(verdicts.filter((v) => v.kind === k).map((v) => v.error!.code));
    assert.equal([...codes('garbage')], [ErrorCode.Handshake]);
    assert.equal([...codes('half-hello')], [ErrorCode.Handshake]);
    assert.equal([...codes('oversized-before')], [ErrorCode.Handshake]);
    // After the handshake an oversized record is a record-layer failure.
    assert.equal([...codes('oversized-after')], [ErrorCode.Protocol]);
    // A close mid-record and a close between records without close_notify are truncations.
    assert.equal([...codes('close-mid-record')], [ErrorCode.Truncated]);
    assert.equal([...codes('close-without-notify')], [ErrorCode.Truncated]);
    for (const v of verdicts.filter((x) => x.kind === 'close-without-notify'))
      assert.ok(v.receivedBytes > 0, 'the complete record before the FIN was delivered');
    for (const v of verdicts.filter((x) => x.kind === 'oversized-before' || x.kind === 'oversized-after'))
      assert.match(v.error!.reason ?? v.error!.message, /too long|overflow|length|wrong version|packet/i);

    // The server still serves.
    await goodTransfer(served.port, context, 100_000);
  } finally {
    await served.close();
    context.free();
  }
});

const Truncation = suite('truncation');

Truncation('a server that closes TCP without close_notify gives the client a TruncationError, not a clean end', async () => {
  const payload = randomBytes(200_000);
  // The JS transport's server: its socket can send a FIN with no close_notify. The client is native (the default).
  const server = createTlsServer({ transport: 'js', cert: pki().server.cert, key: pki().server.key }, (engine) => {
    engine.onsecure = () => {
      engine.write(payload);
      // FIN after the data, no close_notify.
      engine.socket.end();
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const engine = connectTls({ host: 'localhost', port: (server.address() as AddressInfo).port, ca: pki().ca.cert });
    const { data, clean, error } = await withTimeout(collect(engine), 10_000, 'truncated stream');
    assert.not.ok(clean, 'no clean end');
    assert.instance(error, TruncationError);
    assert.is(error!.code, ErrorCode.Truncated);
    // What did arrive is intact.
    assert.is(sha256(data), sha256(payload.subarray(0, data.length)));
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

eachTransport(Truncation, 'a client that closes TCP without close_notify is a TruncationError on the server', async (transport) => {
  const served = await echoServer(transport);
  try {
    const client = await rawTlsClient(served.port, rawContext());
    const local = client.socket.localPort!;
    client.socket.end(client.seal('last words'));
    const error = await outcomeOf(served, local);
    assert.instance(error, TruncationError);
    assert.is(served.received.get(local), 'last words'.length);
    await client.closed;
    client.tls.session.free();
  } finally {
    await served.close();
  }
});

Hostile.run();
Truncation.run();
