// The native transport's data path. Writes an ondata handler makes are
// flushed once it returns (one syscall for an answer and its close_notify);
// plaintext arrives as views of a slab shared by the loop's connections.
// Neither may change what the peer receives, when drain fires, or a chunk a
// handler kept. node:tls is the peer.
import { createHash, randomBytes } from 'node:crypto';
import * as tls from 'node:tls';

import type { SecureConnection } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connectNativeTls, secure, startNative } from '../helpers/native-transport.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Received {
  data: Buffer;
  /** 'end' came before 'close' (node:tls emits it on the FIN, close_notify or not). */
  ended: boolean;
}

/** A node:tls client that sends `request` and collects everything until the connection closes. */
function exchange(port: number, request: string): Promise<Received> {
  return withTimeout(
    new Promise<Received>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let ended = false;
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert }, () => s.write(request));
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => (ended = true));
      s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
      s.on('close', () => resolve({ data: Buffer.concat(chunks), ended }));
    }),
    20_000,
    'exchange',
  );
}

const DataPath = suite('native transport: data path (batched writes, slab views)');

DataPath('several writes and end() in one callback: all of it, in order, then a clean end', async () => {
  const srv = await startNative({ ...p.server }, (c) => {
    c.ondata = () => {
      for (let i = 0; i < 10; i++) c.write(`part ${i};`);
      c.writev([Buffer.from('tail'), Buffer.from('!')]);
      c.end();
    };
  });
  try {
    const r = await exchange(srv.port, 'go');
    assert.is(r.data.toString(), Array.from({ length: 10 }, (_, i) => `part ${i};`).join('') + 'tail!');
    assert.ok(r.ended, 'the stream ended');
  } finally {
    await srv.close();
  }
});

DataPath('past the high-water mark inside the callback: write() says false, drain follows, nothing is lost', async () => {
  const payload = randomBytes(4 * 1024 * 1024);
  let sawFalse = false;
  let drains = 0;
  const srv = await startNative({ ...p.server, highWaterMark: 16 * 1024 }, (c) => {
    let offset = 0;
    const pump = () => {
      while (offset < payload.length) {
        const piece = payload.subarray(offset, offset + 8 * 1024);
        offset += piece.length;
        if (!c.write(piece)) {
          sawFalse = true;
          return; // wait for drain
        }
      }
      c.end();
    };
    c.ondrain = () => {
      drains++;
      pump();
    };
    c.ondata = pump;
  });
  try {
    const r = await exchange(srv.port, 'go');
    assert.ok(sawFalse, 'write() returned false at the high-water mark');
    assert.ok(drains > 0, 'drain fired');
    assert.is(r.data.length, payload.length);
    assert.is(sha(r.data), sha(payload));
    assert.ok(r.ended);
  } finally {
    await srv.close();
  }
});

DataPath('write() then destroy() in one callback: the written bytes still leave', async () => {
  const srv = await startNative({ ...p.server }, (c) => {
    c.ondata = () => {
      c.write('last words');
      c.destroy();
    };
  });
  try {
    const r = await exchange(srv.port, 'go');
    assert.is(r.data.toString(), 'last words');
  } finally {
    await srv.close();
  }
});

DataPath('chunks a handler keeps (no copy) stay intact while later reads fill the slab', async () => {
  const kept = new Map<string, Buffer[]>();
  const srv = await startNative({ ...p.server }, (c) => {
    const chunks: Buffer[] = [];
    c.ondata = (d) => {
      if (chunks.length === 0) kept.set(d.subarray(0, 8).toString('hex'), chunks);
      chunks.push(d);
      c.write('k');
    };
  });
  try {
    // Three connections interleaved, 1,500 distinct messages each, every one
    // answered before the next: far more than one slab of plaintext in all.
    const sent = await Promise.all(
      [0, 1, 2].map(
        (n) =>
          new Promise<Buffer>((resolve, reject) => {
            const parts: Buffer[] = [];
            const s = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert }, () => next());
            const next = () => {
              if (parts.length === 1500) {
                s.end();
                return resolve(Buffer.concat(parts));
              }
              const m = randomBytes(100 + ((parts.length * 7 + n) % 300));
              parts.push(m);
              s.write(m);
            };
            s.on('data', () => next());
            s.on('error', reject);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    for (const whole of sent) {
      const chunks = kept.get(whole.subarray(0, 8).toString('hex'));
      assert.ok(chunks, 'the connection was seen');
      assert.is(sha(Buffer.concat(chunks!)), sha(whole), 'every kept chunk still holds what arrived');
    }
  } finally {
    await srv.close();
  }
});

DataPath('pause() inside ondata in the middle of a burst: the rest arrives after resume(), in order', async () => {
  const payload = randomBytes(2 * 1024 * 1024);
  let received: Buffer[] = [];
  let pauses = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const srv = await startNative({ ...p.server }, (c) => {
    let total = 0;
    c.ondata = (d) => {
      received.push(Buffer.from(d));
      total += d.length;
      if (total >= payload.length) return done();
      c.pause();
      pauses++;
      setImmediate(() => c.resume());
    };
  });
  try {
    const s = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert }, () => s.end(payload));
    s.on('error', () => {});
    await withTimeout(all, 20_000, 'all data');
    assert.ok(pauses > 0);
    assert.is(sha(Buffer.concat(received)), sha(payload));
    s.destroy();
  } finally {
    received = [];
    await srv.close();
  }
});

DataPath('full duplex in chunks far above the high-water mark, each end waiting for drain: no deadlock', async () => {
  // Each write leaves more than 4 high-water marks unsent; a transport that
  // stopped reading for that would stop both ends at once.
  const SIZE = 24 * 1024 * 1024;
  const CHUNK = 2 * 1024 * 1024;
  const up = randomBytes(SIZE);
  const down = randomBytes(SIZE);
  const pump = (c: SecureConnection, data: Buffer) =>
    new Promise<void>((resolve) => {
      let offset = 0;
      const next = () => {
        while (offset < data.length) {
          const more = c.write(data.subarray(offset, offset + CHUNK));
          offset += CHUNK;
          if (!more) return void (c.ondrain = next);
        }
        resolve();
      };
      next();
    });
  const collect = (c: SecureConnection) =>
    new Promise<string>((resolve) => {
      const h = createHash('sha256');
      let got = 0;
      c.ondata = (d) => {
        h.update(d);
        got += d.length;
        if (got === SIZE) resolve(h.digest('hex'));
      };
    });
  let serverGot: Promise<string> | undefined;
  let serverSent: Promise<void> | undefined;
  const srv = await startNative({ ...p.server, highWaterMark: 16 * 1024 }, (c) => {
    serverGot = collect(c);
    serverSent = pump(c, down);
  });
  try {
    const client = await secure(connectNativeTls({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ca: p.ca.cert, highWaterMark: 16 * 1024 }));
    const clientGot = collect(client);
    await withTimeout(pump(client, up), 30_000, 'client sent');
    assert.is(await withTimeout(serverGot!, 30_000, 'server received'), sha(up));
    await withTimeout(serverSent!, 30_000, 'server sent');
    assert.is(await withTimeout(clientGot, 30_000, 'client received'), sha(down));
    client.destroy();
  } finally {
    await srv.close();
  }
});

DataPath.run();
