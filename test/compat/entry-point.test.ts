// `@rxtls/core/tls` against node:tls: one node:tls-style program
// (fixtures/program.ts) run with each module must observe the same events,
// data and connection facts.
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
  assert.equal(rxtls, node);
});

test('with client certificates (requestCert) too', async () => {
  const node = await withTimeout(runProgram('node:tls', p, true), 20_000, 'node:tls run');
  const rxtls = await withTimeout(runProgram('@rxtls/core/tls', p, true), 20_000, 'rxtls run');
  assert.ok(node.server.some((e) => e.startsWith('secureConnection authorized=true')), node.server.join('\n'));
  assert.equal(rxtls, node);
});

test.run();
