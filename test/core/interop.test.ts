// The interop matrix: rxtls against the openssl CLI, node:tls and itself,
// TLS 1.2 and TLS 1.3, each a handshake and an exchange both ways, on both
// transports (native, the default, and js).
import * as tls from 'node:tls';

import { TLSClientContext, type SecureConnection } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { collect, connect } from '../helpers/engine.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient, startSServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { closeServer as close, createSecureServer, eachTransport, listenLocal as listen, TRANSPORTS } from '../helpers/transports.js';

const VERSIONS = [
  { name: 'TLSv1.2', openssl: '-tls1_2', node: 'TLSv1.2' as const, cap: 0x0303 },
  { name: 'TLSv1.3', openssl: '-tls1_3', node: 'TLSv1.3' as const, cap: 0x0304 },
];

/** A client context that trusts the test CA and speaks at most `cap`. */
function clientCtx(cap: number): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(pki().ca.cert);
  ctx.set_protocol_versions(0, cap);
  return ctx;
}

/** Answers the first chunk with `pong:<chunk>`, then close_notify. */
function pong(engine: SecureConnection): void {
  engine.ondata = (chunk) => {
    engine.write(Buffer.concat([Buffer.from('pong:'), chunk]));
    engine.end();
  };
}

for (const v of VERSIONS) {
  const Matrix = suite(`interop ${v.name}`);

  eachTransport(Matrix, 'rxtls client <-> openssl s_server', async (transport) => {
    const s = await startSServer(['-rev', v.openssl, '-cert', pki().file('server', 'crt'), '-key', pki().file('server', 'key')]);
    try {
      const engine = await withTimeout(connect({ host: 'localhost', port: s.port, context: clientCtx(v.cap), transport }), 10_000, 'connect');
      assert.is(engine.info().protocol, v.name);
      const reply = new Promise<string>((resolve) => {
        let text = '';
        engine.ondata = (c) => {
          text += c.toString();
          if (text.includes('\n')) resolve(text);
        };
      });
      engine.write('hello rxtls\n');
      assert.is((await withTimeout(reply, 10_000, 'reply')).trim(), 'sltxr olleh');
      engine.end();
    } finally {
      await s.stop();
    }
  });

  eachTransport(Matrix, 'openssl s_client <-> rxtls server', async (transport) => {
    const server = createSecureServer(transport, { cert: pki().server.cert, key: pki().server.key }, pong);
    const port = await listen(server);
    try {
      const r = await runSClient(port, [v.openssl, '-CAfile', pki().file('ca', 'crt'), '-verify_return_error', '-servername', 'localhost', '-ign_eof'], 'ping\n');
      assert.match(r.stdout, 'pong:ping');
      assert.match(r.stdout, `Protocol  : ${v.name}`);
      assert.match(r.stdout, 'Verify return code: 0 (ok)');
    } finally {
      await close(server);
    }
  });

  eachTransport(Matrix, 'rxtls client <-> node:tls server', async (transport) => {
    const server = tls.createServer({ cert: pki().server.cert, key: pki().server.key, minVersion: v.node, maxVersion: v.node }, (sock) => {
      sock.on('data', (d) => sock.end(Buffer.concat([Buffer.from('pong:'), d])));
    });
    const port = await listen(server);
    try {
      const engine = await withTimeout(connect({ host: '127.0.0.1', port, ca: pki().ca.cert, transport }), 10_000, 'connect');
      assert.is(engine.info().protocol, v.name);
      const done = collect(engine);
      engine.write('ping');
      const result = await withTimeout(done, 10_000, 'collect');
      assert.is(result.data.toString(), 'pong:ping');
      assert.ok(result.clean, 'node:tls ended with close_notify');
    } finally {
      await close(server);
    }
  });

  eachTransport(Matrix, 'node:tls client <-> rxtls server', async (transport) => {
    const server = createSecureServer(transport, { cert: pki().server.cert, key: pki().server.key }, pong);
    const port = await listen(server);
    try {
      const result = await withTimeout(
        new Promise<{ text: string; protocol: string | null }>((resolve, reject) => {
          const sock = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki().ca.cert, minVersion: v.node, maxVersion: v.node }, () => {
            sock.write('ping');
          });
          let text = '';
          sock.on('data', (d) => (text += d));
          sock.on('end', () => resolve({ text, protocol: sock.getProtocol() }));
          sock.on('error', reject);
        }),
        10_000,
        'node client',
      );
      assert.is(result.text, 'pong:ping');
      assert.is(result.protocol, v.name);
    } finally {
      await close(server);
    }
  });

  // Every pairing: client transport x server transport.
  for (const clientTransport of TRANSPORTS)
    eachTransport(Matrix, `rxtls ${clientTransport} client <-> rxtls server`, async (transport) => {
      let serverProtocol: string | null = null;
      const server = createSecureServer(transport, { cert: pki().server.cert, key: pki().server.key }, (engine) => {
        serverProtocol = engine.info().protocol;
        pong(engine);
      });
      const port = await listen(server);
      try {
        const engine = await withTimeout(
          connect({ host: 'localhost', port, context: clientCtx(v.cap), transport: clientTransport }),
          10_000,
          'connect',
        );
        assert.is(engine.info().protocol, v.name);
        const done = collect(engine);
        engine.write('ping');
        const result = await withTimeout(done, 10_000, 'collect');
        assert.is(result.data.toString(), 'pong:ping');
        assert.ok(result.clean, 'server ended with close_notify');
        assert.is(serverProtocol, v.name);
      } finally {
        await close(server);
      }
    });

  Matrix.run();
}

