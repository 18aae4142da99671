// 64 MiB of random bytes each way in random chunk sizes, hashed at both ends,
// on both transports.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import * as tls from 'node:tls';

import type { SecureConnection } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { closeServer as close, createSecureServer, eachTransport, listenLocal as listen } from '../helpers/transports.js';

const SIZE = 64 * 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `data` in random slices of 1 B to 256 KiB, waiting for `ondrain` when the buffer is full. */
async function sendRandomChunks(engine: SecureConnection, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const n = Math.min(data.length - offset, randomInt(1, 256 * 1024));
    const more = engine.write(data.subarray(offset, offset + n));
    offset += n;
    if (!more)
      await new Promise<void>((r) => {
        engine.ondrain = () => {
          engine.ondrain = undefined;
          r();
        };
      });
  }
}

/** Hashes everything received until `expected` bytes have arrived. */
function receiveHash(engine: SecureConnection, expected: number): Promise<string> {
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

const Bulk = suite('bulk transfer');

eachTransport(Bulk, 'rxtls <-> rxtls: 64 MiB each way at once, SHA-256 equal at both ends', async (transport) => {
  const up = randomBytes(SIZE);
  const down = randomBytes(SIZE);
  let serverHash: Promise<string> | undefined;
  let serverSent: Promise<void> | undefined;
  const server = createSecureServer(transport, { cert: pki().server.cert, key: pki().server.key }, (engine) => {
    serverHash = receiveHash(engine, SIZE);
    serverSent = sendRandomChunks(engine, down);
  });
  const port = await listen(server);
  try {
    const client = await withTimeout(connect({ host: 'localhost', port, ca: pki().ca.cert, transport }), 10_000, 'connect');
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

eachTransport(Bulk, 'rxtls client -> node:tls server -> back: 64 MiB echoed, SHA-256 equal', async (transport) => {
  const up = randomBytes(SIZE);
  const server = tls.createServer({ cert: pki().server.cert, key: pki().server.key }, (sock) => sock.pipe(sock));
  const port = await listen(server);
  try {
    const client = await withTimeout(connect({ host: 'localhost', port, ca: pki().ca.cert, transport }), 10_000, 'connect');
    const echoed = receiveHash(client, SIZE);
    await withTimeout(sendRandomChunks(client, up), 60_000, 'send');
    assert.is(await withTimeout(echoed, 60_000, 'echo'), sha256(up));
    client.end();
  } finally {
    await close(server);
  }
});

Bulk.run();
