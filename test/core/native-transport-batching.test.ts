// Writes a native connection's ondata handler makes are flushed once it
// returns (one syscall for an answer and its close_notify). Nothing of that
// may change what the peer receives or when drain fires. node:tls is the peer.
import { createHash, randomBytes } from 'node:crypto';
import * as tls from 'node:tls';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startNative } from '../helpers/native-transport.js';
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

const Batching = suite('native transport: writes batched inside ondata');

Batching('several writes and end() in one callback: all of it, in order, then a clean end', async () => {
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

Batching('past the high-water mark inside the callback: write() says false, drain follows, nothing is lost', async () => {
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

Batching('write() then destroy() in one callback: the written bytes still leave', async () => {
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

Batching.run();
