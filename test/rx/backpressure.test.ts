// Backpressure end to end: 512 MiB from an upstream, through the proxy of
// examples/tls-proxy.ts (in a child process, so its memory is its own), to a
// client that reads at about 50 MiB/s. The proxy must pause the upstream
// instead of buffering: its resident memory stays under 64 MiB above its idle
// baseline. Every byte is checked against the pattern that was sent. On each
// transport (the proxy and the upstream on the same one).
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { connectTls } from '@rxtls/core';
import { read, writeFrom } from '@rxtls/rx';
import { merge } from 'rxjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { serve } from './fixtures/serve.js';
import { TRANSPORTS } from './fixtures/transports.js';

const MiB = 1024 * 1024;
const TOTAL = 512 * MiB;
const RATE = 50 * MiB; // bytes per second the client reads
const CHUNK = 64 * 1024;
const LIMIT = 64 * MiB;

// The stream is this block over and over: random, so nothing compresses,
// and checkable with memcmp at any offset.
const BLOCK = randomBytes(MiB);

async function* pattern(total: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < total; off += CHUNK) yield BLOCK.subarray(off % MiB, (off % MiB) + CHUNK);
}

type ChildMsg =
  | { type: 'listening'; port: number }
  | { type: 'baseline'; baselineRss: number }
  | { type: 'report'; maxRss: number; samples: number }
  | { type: 'error' | 'pair-error'; message: string };

function nextMessage<T extends ChildMsg['type']>(child: ChildProcess, type: T): Promise<Extract<ChildMsg, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: ChildMsg) => {
      if (m.type === type) {
        child.off('message', onMsg);
        resolve(m as Extract<ChildMsg, { type: T }>);
      } else if (m.type === 'error' || m.type === 'pair-error') reject(new Error(`proxy: ${m.message}`));
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`proxy exited (${code})`)));
  });
}

/** Reads everything at about `rate` bytes/s, checking each byte; resolves with the count. */
function pacedClient(port: number, ca: string, rate: number): Promise<{ received: number; clean: boolean }> {
  return new Promise((resolve, reject) => {
    const engine = connectTls({ host: 'localhost', port, ca, allowHalfOpen: false });
    let received = 0;
    let mismatch = false;
    let clean = false;
    let started = 0;
    let timer: NodeJS.Timeout | undefined;
    engine.onsecure = () => (started = performance.now());
    engine.ondata = (chunk) => {
      // Compare with the pattern, block boundary by block boundary.
      let done = 0;
      while (done < chunk.length) {
        const at = (received + done) % MiB;
        const n = Math.min(chunk.length - done, MiB - at);
        if (chunk.compare(BLOCK, at, at + n, done, done + n) !== 0) mismatch = true;
        done += n;
      }
      received += chunk.length;
      const ahead = received / rate - (performance.now() - started) / 1000;
      if (ahead > 0.005 && !timer) {
        engine.pause();
        timer = setTimeout(() => {
          timer = undefined;
          engine.resume();
        }, ahead * 1000);
      }
    };
    engine.onend = () => (clean = true);
    engine.onclose = (err) => {
      clearTimeout(timer);
      if (mismatch) reject(new Error('received bytes differ from those sent'));
      else if (err) reject(err);
      else resolve({ received, clean });
    };
  });
}

for (const transport of TRANSPORTS)
  test(`512 MiB through the proxy to a 50 MiB/s reader: proxy RSS stays under 64 MiB above idle [${transport}]`, async () => {
    const { ca, server } = pki();
    // The upstream: sends the pattern, pulled as the proxy makes room.
    // The first connection (the warm-up) gets 4 MiB, the next the whole stream.
    const sizes = [4 * MiB, TOTAL];
    const upstream = await serve({ ...server, transport }, (c) => merge(writeFrom(c, pattern(sizes.shift() ?? 0)), read(c)));
    const child = fork(fileURLToPath(new URL('./fixtures/proxy-child.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const ready = nextMessage(child, 'listening');
      child.send({ cert: server.cert, key: server.key, ca: ca.cert, upstreamPort: upstream.port, transport });
      const { port } = await withTimeout(ready, 20_000, 'proxy start');
      const warm = await withTimeout(pacedClient(port, ca.cert, Infinity), 20_000, 'warm-up transfer');
      assert.is(warm.received, 4 * MiB);
      const measured = nextMessage(child, 'baseline');
      child.send('baseline');
      const { baselineRss } = await withTimeout(measured, 5_000, 'proxy baseline');

      const started = performance.now();
      const result = await withTimeout(pacedClient(port, ca.cert, RATE), 50_000, '512 MiB transfer');
      const seconds = (performance.now() - started) / 1000;

      const reported = nextMessage(child, 'report');
      child.send('report');
      const { maxRss, samples } = await withTimeout(reported, 5_000, 'proxy report');
      const growth = maxRss - baselineRss;
      console.log(
        `  512 MiB in ${seconds.toFixed(1)} s (${(TOTAL / MiB / seconds).toFixed(1)} MiB/s); proxy RSS idle ${(baselineRss / MiB).toFixed(1)} MiB, ` +
          `peak ${(maxRss / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)} MiB, ${samples} samples)`,
      );
      assert.is(result.received, TOTAL);
      assert.ok(result.clean, 'the stream ended with close_notify');
      assert.ok(growth < LIMIT, `proxy RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.connected) child.send('stop');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
      upstream.stop();
    }
  });

test.run();
