// `@rxtls/core/tls` against node:tls: one node:tls-style program
// (fixtures/program.ts) run with each module must observe the same events,
// data and connection facts.
import type { AddressInfo } from 'node:net';

import * as rxtls from '@rxtls/core/tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { runProgram } from './fixtures/program.js';

const p = pki();
const test = suite('node:tls-shaped entry point');

test('the same program observes the same on node:tls and @rxtls/core/tls', async () => {
  const node = await withTimeout(runProgram('node:tls', p), 20_000, 'node:tls run');
  const rxtls = await withTimeout(runProgram('@rxtls/core/tls', p), 20_000, 'rxtls run');
  // The baseline says what the program exercises; rxtls must match it.
  assert.ok(node.client.includes('trusting data HELLO'), node.client.join('\n'));
  assert.ok(node.server.includes('tlsClientError'), node.server.join('\n'));
  assert.ok(node.server.includes('keylog') && node.client.includes('trusting keylog'), 'keylog events on both sides');
  assert.equal(rxtls, node);
});

test('with client certificates (requestCert) too', async () => {
  const node = await withTimeout(runProgram('node:tls', p, true), 20_000, 'node:tls run');
  const rxtls = await withTimeout(runProgram('@rxtls/core/tls', p, true), 20_000, 'rxtls run');
  assert.ok(node.server.some((e) => e.startsWith('secureConnection authorized=true')), node.server.join('\n'));
  assert.equal(rxtls, node);
});

/** Connects with the entry point; resolves once secure with the socket and the sessions it received. */
function connectOnce(options: rxtls.TlsConnectionOptions): Promise<{ socket: rxtls.TLSSocket; sessions: Buffer[] }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const sessions: Buffer[] = [];
      const socket = rxtls.connect({ host: '127.0.0.1', ca: p.ca.cert, ...options }, () => {
        socket.write('x'); // the server answers and ends: the TLS 1.3 ticket arrives before the end
      });
      socket.on('session', (s: Buffer) => sessions.push(s));
      socket.on('error', reject);
      socket.resume();
      socket.on('end', () => resolve({ socket, sessions }));
    }),
    10_000,
    'connect',
  );
}

async function listen(server: rxtls.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

test('SNICallback with createSecureContext, addContext, and node-style 48-byte ticketKeys shared by two servers', async () => {
  const ticketKeys = Buffer.alloc(48, 9);
  const names: string[] = [];
  const other = rxtls.createSecureContext({ key: p.otherHost.key, cert: p.otherHost.cert });
  const options: rxtls.TlsServerOptions = {
    key: p.server.key,
    cert: p.server.cert,
    ticketKeys,
    SNICallback: (name, cb) => {
      names.push(name);
      cb(null, name === 'other.example' ? other : undefined);
    },
  };
  const onConnection = (s: rxtls.TLSSocket) => s.once('data', () => s.end('y'));
  const a = rxtls.createServer(options, onConnection);
  const b = rxtls.createServer(options, onConnection);
  b.addContext('*.added.test', { key: p.client.key, cert: p.client.cert });
  const [portA, portB] = [await listen(a), await listen(b)];
  try {
    const first = await connectOnce({ port: portA, servername: 'other.example' });
    assert.is(first.socket.getPeerCertificate()?.subject.CN, 'other.example');
    assert.is(first.socket.authorized, true);
    assert.is(first.socket.isSessionReused(), false);
    assert.ok(first.sessions.length > 0, 'a session arrived');
    // Same 48 bytes, another server: the ticket opens there too.
    const again = await connectOnce({ port: portB, servername: 'other.example', session: first.sessions.at(-1)! });
    assert.is(again.socket.isSessionReused(), true);
    assert.equal(names, ['other.example', 'other.example']);
    const added = await connectOnce({ port: portB, servername: 'x.added.test', checkServerIdentity: () => undefined });
    assert.is(added.socket.getPeerCertificate()?.subject.CN, 'rxtls test client');
    assert.is(b.getTicketKeys()?.length, 80);
  } finally {
    await new Promise((r) => a.close(r));
    await new Promise((r) => b.close(r));
  }
});

test.run();
