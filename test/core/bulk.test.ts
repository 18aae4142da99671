// 64 MiB of random bytes each way in random chunk sizes, hashed at both ends.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { AddressInfo, Server } from 'node:net';
import * as tls from 'node:tls';

import { createTlsServer, type TlsEngine } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const SIZE = 64 * 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `data` in random slices of 1 B to 256 KiB, waiting for 'drain' when the socket is full. */
async function sendRandomChunks(engine: TlsEngine, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const n = Math.min(data.length - offset, randomInt(1, 256 * 1024));
    const more = engine.write(data.subarray(offset, offset + n));
    offset += n;
    if (!more) await new Promise((r) => engine.socket.once('drain', r));
  }
}

/** Hashes everything received until `expected` bytes have arrived. */
function receiveHash(engine: TlsEngine, expected: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let got = 0;
    engine.ondata = (c) => {
      hash.update(c);
      got += c.length;
      if (got === expected) resolve(hash.digest('hex'));
      else if (got > expected) reject(new Error(`received ${got} bytes, expected ${expected}`));
    };
    engine.onerror = reject;
  });
}

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
};
const close = (server: Server) => new Promise<void>((r) => server.close(() => r()));

const Bulk = suite('bulk transfer');

Bulk('rxtls <-> rxtls: 64 MiB each way at once, SHA-256 equal at both ends', async () => {
  const up = randomBytes(SIZE);
  const down = randomBytes(SIZE);
  let serverHash: Promise<string> | undefined;
  let serverSent: Promise<void> | undefined;
  const server = createTlsServer({ cert: pki().server.cert, key: pki().server.key }, (engine) => {
    serverHash = receiveHash(engine, SIZE);
    engine.onsecure = () => {
      serverSent = sendRandomChunks(engine, down);
    };
  });
  const port = await listen(server);
  try {
    const client = await withTimeout(connect({ host: 'localhost', port, ca: pki().ca.cert }), 10_000, 'connect');
    const clientHash = receiveHash(client, SIZE);
    await withTimeout(sendRandomChunks(client, up), 60_000, 'client send');
    assert.is(await withTimeout(serverHash!, 60_000, 'server receive'), sha256(up));
    await withTimeout(serverSent!, 60_000, 'server send');
    assert.is(await withTimeout(clientHash, 60_000, 'client receive'), sha256(down));
    client.end();
  } finally {
    await close(server);
  }
});

Bulk('rxtls client -> node:tls server -> back: 64 MiB echoed, SHA-256 equal', async () => {
  const up = randomBytes(SIZE);
  const server = tls.createServer({ cert: pki().server.cert, key: pki().server.key }, (sock) => sock.pipe(sock));
  const port = await listen(server);
  try {
    const client = await withTimeout(connect({ host: 'localhost', port, ca: pki().ca.cert }), 10_000, 'connect');
    const echoed = receiveHash(client, SIZE);
    await withTimeout(sendRandomChunks(client, up), 60_000, 'send');
    assert.is(await withTimeout(echoed, 60_000, 'echo'), sha256(up));
    client.end();
  } finally {
    await close(server);
  }
});

Bulk.run();
