// ALPN: both sides offer protocols, the server picks by its preference, the
// selection is reported, and a server can refuse a client with nothing in
// common. Peers: `openssl s_client -alpn`, node:tls, rxtls.
import * as tls from 'node:tls';

import { connectTls, TLSClientContext } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/features.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { eachTransport, TRANSPORTS } from '../helpers/transports.js';

const p = pki();
const sClient = (port: number, args: string[]) =>
  withTimeout(runSClient(port, ['-CAfile', p.file('ca', 'crt'), ...args], 'Q\n'), 20_000, 's_client');

const alpn = suite<{ srv?: RunningServer }>('alpn');
alpn.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
});

eachTransport(alpn, 'openssl s_client -alpn: the server picks its preferred common protocol', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, alpnProtocols: ['h2', 'http/1.1'] });
  const both = await sClient(ctx.srv.port, ['-alpn', 'http/1.1,h2']);
  assert.match(both.stdout, /ALPN protocol: h2/);
  const one = await sClient(ctx.srv.port, ['-alpn', 'foo,http/1.1']);
  assert.match(one.stdout, /ALPN protocol: http\/1\.1/);
  // A client that offers no ALPN is served without it.
  const none = await sClient(ctx.srv.port, []);
  assert.match(none.stdout, /No ALPN negotiated/);
});

eachTransport(alpn, 'no common protocol: refused with no_application_protocol, or served without ALPN', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, alpnProtocols: ['h2'] });
  const refused = await sClient(ctx.srv.port, ['-alpn', 'spdy/3']);
  assert.match(refused.stderr + refused.stdout, /no application protocol/i);
  assert.not.match(refused.stdout, /Verification: OK[\s\S]*ALPN protocol/);
  await ctx.srv.close();
  ctx.srv = await startServer({ transport, ...p.server, alpnProtocols: ['h2'], rejectUnknownAlpn: false });
  const lenient = await sClient(ctx.srv.port, ['-alpn', 'spdy/3']);
  assert.match(lenient.stdout, /No ALPN negotiated/);
});

eachTransport(alpn, 'rxtls client and server report the selection; node:tls agrees', async (transport, ctx) => {
  ctx.srv = await startServer({ transport, ...p.server, alpnProtocols: ['h2', 'http/1.1'] });
  const engine = await connect({ transport, host: 'localhost', port: ctx.srv.port, ca: p.ca.cert, alpnProtocols: ['http/1.1'] });
  assert.is(engine.alpnProtocol, 'http/1.1');
  assert.is(engine.info().alpnProtocol, 'http/1.1');
  const first = await new Promise<string>((resolve) => (engine.ondata = (d) => resolve(d.toString())));
  assert.match(first, /^hello http\/1\.1 localhost/);
  engine.destroy();

  const nodeClient = tls.connect({ host: '127.0.0.1', port: ctx.srv.port, servername: 'localhost', ca: p.ca.cert, ALPNProtocols: ['h2'] });
  await withTimeout(new Promise((resolve, reject) => nodeClient.once('secureConnect', resolve).once('error', reject)), 10_000, 'node:tls');
  assert.is(nodeClient.alpnProtocol, 'h2');
  nodeClient.destroy();
});

eachTransport(alpn, 'a client context list, overridden per connection; an rxtls client talking to node:tls', async (transport) => {
  const server = tls.createServer({ ...p.server, ALPNProtocols: ['b', 'a'] }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  try {
    const ctx = new TLSClientContext();
    ctx.set_verify_locations(p.ca.cert);
    ctx.set_alpn_protocols(['a']);
    const viaContext = await connect({ transport, host: 'localhost', port, context: ctx });
    assert.is(viaContext.alpnProtocol, 'a');
    viaContext.destroy();
    const override = await connect({ transport, host: 'localhost', port, context: ctx, alpnProtocols: ['b'] });
    assert.is(override.alpnProtocol, 'b');
    override.destroy();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

alpn('argument checks', () => {
  const ctx = new TLSClientContext();
  const invalid = (e: Error & { code: string }) => e.code === 'ERR_TLS_INVALID_ARGUMENT';
  assert.throws(() => ctx.set_alpn_protocols(['']), invalid);
  assert.throws(() => ctx.set_alpn_protocols(['x'.repeat(256)]), invalid);
  assert.throws(() => ctx.set_alpn_protocols('h2' as never), invalid);
  // An IP address: the native transport checks the options before its (asynchronous) name lookup otherwise.
  for (const transport of TRANSPORTS)
    assert.throws(() => connectTls({ transport, host: '127.0.0.1', port: 1, alpnProtocols: Buffer.from([5, 0x61]) }), invalid);
  ctx.set_alpn_protocols(null);
  ctx.set_alpn_protocols([]);
  ctx.free();
  assert.throws(() => ctx.set_alpn_protocols(['h2']), (e: Error & { code: string }) => e.code === 'ERR_TLS_CLOSED');
});

alpn.run();
