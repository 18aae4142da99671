// TlsEngine's idle timeout: an established connection with no traffic is
// dropped with a TimeoutError; traffic keeps it alive.
import type { AddressInfo } from 'node:net';

import { createTlsServer, type TlsError } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const Idle = suite('idle timeout');

Idle('a silent connection is dropped, a chatty one is not', async () => {
  const serverErrors: TlsError[] = [];
  const server = createTlsServer({ cert: pki().server.cert, key: pki().server.key, idleTimeout: 1000 }, (engine) => {
    engine.ondata = (c) => engine.write(c);
    engine.onerror = (err) => serverErrors.push(err);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    // Chatty: a message every 100 ms for 1.5 s, past the 1 s idle period (wide
    // margins: a loaded machine may stall the loop for a while).
    const chatty = await withTimeout(connect({ host: 'localhost', port, ca: pki().ca.cert }), 10_000, 'connect');
    let echoed = 0;
    chatty.ondata = (c) => (echoed += c.length);
    for (let i = 0; i < 15; i++) {
      chatty.write('tick');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.is(chatty.closed, false, 'traffic keeps the connection open');
    assert.ok(echoed > 0);
    chatty.end();

    // Silent: the server drops it after its idle period.
    const silent = await withTimeout(connect({ host: 'localhost', port, ca: pki().ca.cert }), 10_000, 'connect');
    const closed = new Promise<TlsError | undefined>((r) => (silent.onclose = r));
    await withTimeout(closed, 10_000, 'silent connection dropped');
    await withTimeout((async () => { while (!serverErrors.some((e) => e.code === 'ERR_TLS_TIMEOUT')) await new Promise((r) => setTimeout(r, 10)); })(), 5_000, 'server timeout error');
    assert.match(serverErrors.find((e) => e.code === 'ERR_TLS_TIMEOUT')!.message, 'idle');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

Idle('a bad idleTimeout is an InvalidArgument error', async () => {
  const { connectTls } = await import('@rxtls/core');
  assert.throws(() => connectTls({ host: 'localhost', port: 1, idleTimeout: -1 }), (e: TlsError) => e.code === 'ERR_TLS_INVALID_ARGUMENT');
});

Idle.run();
