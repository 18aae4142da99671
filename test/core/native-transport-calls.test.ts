// How often the native transport calls into JS, counted where its callbacks
// land (docs/ARCHITECTURE.md, "JS calls per connection"): a server's full
// handshake is one call, a 64-byte echo one call per message, a clean close
// two (end and close; a third, finish, only with onfinish set). A node:tls
// client is the peer.
import * as tls from 'node:tls';

import { NativeTlsConnection, NativeTlsServer } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { startNative } from '../helpers/native-transport.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const calls = { accept: 0, secure: 0, data: 0, end: 0, close: 0, session: 0, finish: 0 };
const reset = () => {
  for (const k of Object.keys(calls) as (keyof typeof calls)[]) calls[k] = 0;
};

// Every native callback reaches one of these (see binding.setTransportCallbacks
// in native-transport.ts); ondata is the handler itself.
type Patchable = Record<string, (...args: unknown[]) => unknown>;
function count(proto: object, method: string, key: keyof typeof calls): void {
  const target = proto as Patchable;
  const original = target[method]!;
  target[method] = function (this: unknown, ...args: unknown[]) {
    calls[key]++;
    return original.apply(this, args);
  };
}
count(NativeTlsServer.prototype, '_accept', 'accept');
count(NativeTlsConnection.prototype, '_secure', 'secure');
count(NativeTlsConnection.prototype, '_end', 'end');
count(NativeTlsConnection.prototype, '_close', 'close');
count(NativeTlsConnection.prototype, '_session', 'session');
count(NativeTlsConnection.prototype, '_finish', 'finish');

/** The server's handler runs once it has the client's Finished, after the client is secure. */
const untilAccepted = () =>
  withTimeout(
    (async () => {
      while (calls.accept === 0) await new Promise((r) => setImmediate(r));
    })(),
    10_000,
    'server accept',
  );

const Calls = suite('native transport: JS calls per connection');

Calls('server: handshake 1, 64-byte echo 1 per message, clean close 2', async () => {
  let closed!: () => void;
  const serverClosed = new Promise<void>((r) => (closed = r));
  const srv = await startNative({ ...p.server }, (c) => {
    c.ondata = (d) => {
      calls.data++;
      c.write(d);
    };
    c.onclose = () => closed();
  });
  try {
    reset();
    const client = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert });
    await withTimeout(new Promise<void>((r, j) => (client.once('secureConnect', r), client.once('error', j))), 10_000, 'client secure');
    // The server's handler ran once the handshake was done: nothing before it.
    await untilAccepted();
    assert.equal({ ...calls }, { accept: 1, secure: 0, data: 0, end: 0, close: 0, session: 0, finish: 0 }, 'handshake');

    reset();
    const message = Buffer.alloc(64, 0x61);
    for (let i = 0; i < 100; i++) {
      const echoed = new Promise<void>((r) => client.once('data', () => r()));
      client.write(message);
      await withTimeout(echoed, 10_000, 'echo');
    }
    assert.equal({ ...calls }, { accept: 0, secure: 0, data: 100, end: 0, close: 0, session: 0, finish: 0 }, '100 echoes');

    reset();
    client.end();
    await withTimeout(serverClosed, 10_000, 'server close');
    // No onfinish set: the FIN costs no call.
    assert.equal({ ...calls }, { accept: 0, secure: 0, data: 0, end: 1, close: 1, session: 0, finish: 0 }, 'close');
    client.destroy();
  } finally {
    await srv.close();
  }
});

Calls('server: onfinish, when set, is one more call once its FIN is out', async () => {
  let closed!: () => void;
  const serverClosed = new Promise<void>((r) => (closed = r));
  let finished = false;
  const srv = await startNative({ ...p.server }, (c) => {
    c.onfinish = () => (finished = c.finished);
    c.ondata = () => c.end();
    c.onclose = () => closed();
  });
  try {
    const client = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert });
    client.on('error', () => {});
    await withTimeout(new Promise<void>((r) => client.once('secureConnect', r)), 10_000, 'client secure');
    await untilAccepted();
    reset();
    client.write('bye');
    await withTimeout(new Promise<void>((r) => client.once('end', r)), 10_000, 'client end');
    client.end();
    await withTimeout(serverClosed, 10_000, 'server close');
    assert.equal({ ...calls }, { accept: 0, secure: 0, data: 0, end: 1, close: 1, session: 0, finish: 1 });
    assert.ok(finished, 'finished is true inside onfinish');
  } finally {
    await srv.close();
  }
});

Calls.run();
