// examples/cluster.ts as a user runs it: prints `listening <port>` once
// every worker is up, echoes (after `from <address>:<port>`), and exits 0 on
// SIGTERM; with PROXY=1 it reports the address from a PROXY v2 header.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as tls from 'node:tls';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';

const example = new URL('../../examples/cluster.ts', import.meta.url).pathname;

async function runExample(env: Record<string, string>, body: (port: number) => Promise<void>): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', example], {
    env: { ...process.env, PORT: '0', WORKERS: '2', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        proc.stdout!.on('data', (d) => {
          out += d;
          const m = /^listening (\d+)$/m.exec(out);
          if (m) resolve(Number(m[1]));
        });
        proc.once('exit', (code) => reject(new Error(`example exited (${code}): ${out}`)));
      }),
      30_000,
      'example start',
    );
    await body(port);
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  }
  assert.is(await withTimeout(exited, 20_000, 'example stop'), 0, 'exits cleanly on SIGTERM');
  assert.is((out.match(/^listening /gm) ?? []).length, 1, `one listening line: ${out}`);
}

const test = suite('cluster example');

/** Sends `line` over TLS (after `header` in the clear, if any); resolves with the answer up to its echo. */
async function ask(port: number, line: string, header?: Buffer): Promise<string> {
  const raw = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  if (header) raw.write(header);
  const s = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
  let text = '';
  s.on('data', (d) => {
    text += d;
    if (text.endsWith(line)) s.end();
  });
  s.once('secureConnect', () => s.write(line));
  await withTimeout(new Promise((resolve) => s.once('close', resolve)), 15_000, 'example client');
  return text;
}

test('starts two workers, prints listening <port>, echoes, stops on SIGTERM', async () => {
  await runExample({}, async (port) => {
    for (let i = 0; i < 3; i++) assert.match(await ask(port, `hello ${i}\n`), new RegExp(`^from 127\\.0\\.0\\.1:\\d+\\nhello ${i}\\n$`));
  });
});

/** A PROXY v2 header (PROXY, TCP over IPv4) saying the client is src:sport. */
function proxyV2(src: string, sport: number, dport: number): Buffer {
  const block = Buffer.alloc(12);
  Buffer.from(src.split('.').map(Number)).copy(block, 0);
  Buffer.from([127, 0, 0, 1]).copy(block, 4);
  block.writeUInt16BE(sport, 8);
  block.writeUInt16BE(dport, 10);
  const head = Buffer.from('0d0a0d0a000d0a515549540a21110000', 'hex');
  head.writeUInt16BE(block.length, 14);
  return Buffer.concat([head, block]);
}

test('PROXY=1: answers the first line with the address from the PROXY v2 header', async () => {
  await runExample({ PROXY: '1' }, async (port) => {
    assert.is(await ask(port, 'hi\n', proxyV2('203.0.113.7', 4242, port)), 'from 203.0.113.7:4242\nhi\n');
  });
});

test.run();
