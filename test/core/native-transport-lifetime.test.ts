// Lifetime of the native transport: a server in a worker thread (its own
// loop, its handles closed at worker exit), process exit with connections
// open, the loop ending by itself once everything is unref'd, and 2,000
// connections opened and closed against one server with descriptors and
// native objects back where they started.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import '@rxtls/core'; // installs the error classes
import { binding as nativeBinding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connectNativeTls, outcome, secure, startNative } from '../helpers/native-transport.js';
import { sleep, withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const peer = fileURLToPath(new URL('./fixtures/native-transport-peer.mjs', import.meta.url));
const openFds = () => readdirSync('/proc/self/fd').length;

function runChild(mode: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [peer, mode], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr }),
    );
  });
}

const life = suite('native transport lifetime');

life('a server in a worker thread: echo from the main thread, then the worker exits with the connection open', async () => {
  const worker = new Worker(peer, { argv: ['worker'] });
  try {
    const port = await withTimeout(new Promise<number>((r) => worker.once('message', (m: { port: number }) => r(m.port))), 20_000, 'worker listening');
    const sock = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    sock.write('from main');
    const echoed = await withTimeout(new Promise<string>((r) => sock.once('data', (d) => r(d.toString()))), 10_000, 'echo');
    assert.is(echoed, 'from main');
    const exited = new Promise<number>((r) => worker.once('exit', r));
    worker.postMessage('exit');
    assert.is(await withTimeout(exited, 20_000, 'worker exit'), 0);
    // The worker's teardown closed its socket: the main thread sees the end.
    await withTimeout(new Promise((r) => (sock.destroyed ? r(undefined) : sock.once('close', r))), 10_000, 'socket closed by the worker exit');
  } finally {
    await worker.terminate();
  }
});

life('a worker terminated while its server has connections: no crash, the main thread goes on', async () => {
  const worker = new Worker(peer, { argv: ['worker'] });
  const port = await withTimeout(new Promise<number>((r) => worker.once('message', (m: { port: number }) => r(m.port))), 20_000, 'worker listening');
  const socks = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<tls.TLSSocket>((r) => {
          const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => r(s));
          s.on('error', () => {});
        }),
    ),
  );
  const code = await withTimeout(worker.terminate(), 20_000, 'terminate');
  assert.is(code, 1);
  for (const s of socks) await withTimeout(new Promise((r) => (s.destroyed ? r(undefined) : s.once('close', r))), 10_000, 'closed');
});

life('process.exit() with a native server and client connected: exit code 0, nothing on stderr', async () => {
  const r = await runChild('exit-open');
  assert.is(r.signal, null, r.stderr);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'echoed');
  assert.is(r.stderr, '');
});

life("the loop ends by itself once the server and the connection are unref'd", async () => {
  const r = await runChild('natural-exit');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'echoed');
  assert.is(r.stderr, '');
});

life('2,000 connections opened and closed against one server: descriptors and native objects flat', async () => {
  const srv = await startNative({ ...p.server });
  try {
    const once = async () => {
      const c = connectNativeTls({ host: '127.0.0.1', port: srv.port, ca: p.ca.cert, verifyHost: 'localhost' });
      await secure(c);
      const done = outcome(c);
      c.write('x');
      await new Promise<void>((r) => {
        const prev = c.ondata;
        c.ondata = (d) => {
          prev?.(d);
          r();
        };
      });
      c.end();
      const r = await done;
      if (r.error) throw r.error;
    };
    // Warm up (lazy allocations, the first handshake's tables), then measure.
    for (let i = 0; i < 20; i++) await once();
    await sleep(50);
    const fdsBefore = openFds();
    for (let batch = 0; batch < 40; batch++) await Promise.all(Array.from({ length: 50 }, once));
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = () => (srv.server.connections === 0 ? resolve() : setTimeout(check, 10));
        check();
      }),
      10_000,
      'server connections drain',
    );
    await sleep(50);
    const fdsAfter = openFds();
    assert.ok(fdsAfter <= fdsBefore + 2, `descriptors ${fdsBefore} -> ${fdsAfter}`);
    srv.connections.length = 0; // let the wrappers go
    global.gc?.();
    await sleep(20);
    global.gc?.();
    const counters = nativeBinding.debugCounters();
    assert.is(counters.TcpConnection, 0, 'every native connection freed');
  } finally {
    await srv.close();
  }
});

life.run();
