// The feature callbacks and SNI tables must not keep contexts alive, nor
// dangle: contexts that refer to themselves through their callbacks are
// collected, and a session keeps working after its context was freed.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { TLSServerContext } from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { startServer } from '../helpers/features.js';
import { pki } from '../helpers/pki.js';
import { eachTransport } from '../helpers/transports.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const p = pki();

async function collect(): Promise<void> {
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const lifetime = suite('feature lifetime');

lifetime('contexts holding callbacks that refer to themselves are garbage-collected', async () => {
  await collect();
  const before = nativeBinding.debugCounters().Context ?? 0;
  (() => {
    for (let i = 0; i < 40; i++) {
      const ctx = new TLSServerContext();
      const other = new TLSServerContext();
      ctx.set_keylog_callback(() => void ctx);
      ctx.set_servername_callback(() => ctx);
      ctx.set_servername_context('x.test', other);
      ctx.set_alpn_protocols(['h2']);
      ctx.set_ticket_keys(Buffer.alloc(80, i));
    }
  })();
  assert.ok((nativeBinding.debugCounters().Context ?? 0) >= before + 80);
  await collect();
  assert.is(nativeBinding.debugCounters().Context ?? 0, before);
});

eachTransport(lifetime, 'a server context freed under a live connection: the connection goes on', async (transport) => {
  const lines: string[] = [];
  const ctx = new TLSServerContext();
  ctx.load_certs(p.server.cert, p.server.key);
  ctx.set_alpn_protocols(['h2']);
  ctx.set_keylog_callback((l) => lines.push(l));
  ctx.set_servername_callback(() => undefined);
  const srv = await startServer({ transport, context: ctx });
  try {
    const client = await connect({ transport, host: 'localhost', port: srv.port, ca: p.ca.cert, alpnProtocols: ['h2'] });
    assert.is(client.alpnProtocol, 'h2');
    ctx.free();
    client.write('ping');
    const echoed = await new Promise<string>((resolve) => (client.ondata = (d) => resolve(d.toString())));
    assert.match(echoed, /hello h2 localhost|ping/);
    assert.ok(lines.length >= 5, 'the keylog callback ran for the handshake');
    assert.ok(client.getSession(), 'the ticket sealed by the freed context arrived');
    client.destroy();
  } finally {
    await srv.close();
  }
});

// net.Server's 'connection' sockets and getConnections: the JS transport's server.
lifetime('createTlsServer keeps counting connections, and its sockets still close them', async () => {
  const srv = await startServer({ transport: 'js', ...p.server });
  const server = srv.server as import('node:net').Server;
  const tracked: import('node:net').Socket[] = [];
  server.on('connection', (s) => tracked.push(s));
  try {
    const client = await connect({ host: 'localhost', port: srv.port, ca: p.ca.cert });
    const count = await new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    assert.is(count, 1);
    let closedFirst = false;
    const closing = new Promise<void>((resolve) => srv.server.close(() => resolve()));
    void closing.then(() => (closedFirst = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.not.ok(closedFirst, 'server.close() waits for the open connection');
    // Destroying the socket the 'connection' event gave closes the TLS connection.
    const clientClosed = new Promise((resolve) => (client.onclose = resolve));
    tracked[0]!.destroy();
    await clientClosed;
    await closing;
  } finally {
    for (const e of srv.engines) e.destroy();
  }
});

lifetime.run();
