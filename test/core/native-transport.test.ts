// The native transport against real peers over 127.0.0.1: a native server
// against openssl s_client, node:tls and the rxtls JS transport; a native
// client against openssl s_server and node:tls; TLS 1.2 and 1.3; 16 MiB each
// way hashed at both ends.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

import { TLSClientContext, type SecureConnection } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect as connectJs } from '../helpers/engine.js';
import { connectNativeTls, outcome, secure, startNative } from '../helpers/native-transport.js';
import { withTimeout } from '../helpers/net.js';
import { runSClient, startSServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const VERSIONS = [
  { name: 'TLSv1.2', openssl: '-tls1_2', node: 'TLSv1.2' as const, cap: 0x0303 },
  { name: 'TLSv1.3', openssl: '-tls1_3', node: 'TLSv1.3' as const, cap: 0x0304 },
];

function clientCtx(cap: number): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(p.ca.cert);
  ctx.set_protocol_versions(0, cap);
  return ctx;
}

/** A server whose connections answer `pong:<data>` and end. */
const pongServer = () =>
  startNative({ ...p.server }, (c) => {
    c.ondata = (d) => {
      c.write(Buffer.concat([Buffer.from('pong:'), d]));
      c.end();
    };
  });

for (const v of VERSIONS) {
  const Interop = suite(`native transport ${v.name}`);

  Interop('openssl s_client <-> native server', async () => {
    const srv = await pongServer();
    try {
      const r = await runSClient(srv.port, [v.openssl, '-CAfile', p.file('ca', 'crt'), '-verify_return_error', '-servername', 'localhost', '-ign_eof'], 'ping\n');
      assert.match(r.stdout, 'pong:ping');
      assert.match(r.stdout, `Protocol  : ${v.name}`);
      assert.match(r.stdout, 'Verify return code: 0 (ok)');
    } finally {
      await srv.close();
    }
  });

  Interop('node:tls client <-> native server: data both ways, clean close both ways', async () => {
    let serverEnd: Promise<{ clean: boolean; error: unknown; data: Buffer }> | undefined;
    const srv = await startNative({ ...p.server }, (c) => {
      serverEnd = outcome(c);
      c.write('welcome ' + c.info().protocol);
      c.ondata = (d) => c.write(d);
    });
    try {
      const sock = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert, minVersion: v.node, maxVersion: v.node });
      let got = '';
      const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
      sock.on('data', (d) => {
        got += d.toString();
        if (got.includes('echo-me')) sock.end();
      });
      await new Promise<void>((resolve) => sock.once('secureConnect', () => resolve()));
      sock.write('echo-me');
      await withTimeout(closed, 10_000, 'node client close');
      assert.is(got, `welcome ${v.name}echo-me`);
      const s = await serverEnd!;
      assert.is(s.error, undefined);
      assert.ok(s.clean, 'the server saw close_notify');
    } finally {
      await srv.close();
    }
  });

  Interop('rxtls JS-transport client <-> native server', async () => {
    const srv = await pongServer();
    try {
      const engine = await withTimeout(connectJs({ host: 'localhost', port: srv.port, context: clientCtx(v.cap) }), 10_000, 'connect');
      assert.is(engine.info().protocol, v.name);
      const done = outcome(engine);
      engine.write('js');
      const r = await done;
      assert.is(r.data.toString(), 'pong:js');
      assert.ok(r.clean);
      assert.is(r.error, undefined);
    } finally {
      await srv.close();
    }
  });

  Interop('native client <-> openssl s_server', async () => {
    const s = await startSServer(['-rev', v.openssl, '-cert', p.file('server', 'crt'), '-key', p.file('server', 'key')]);
    try {
      const c = await secure(connectNativeTls({ host: 'localhost', port: s.port, context: clientCtx(v.cap) }));
      assert.is(c.info().protocol, v.name);
      assert.is(c.remoteAddress, '127.0.0.1');
      assert.is(c.remotePort, s.port);
      const reply = new Promise<string>((resolve) => {
        let text = '';
        c.ondata = (d) => {
          text += d.toString();
          if (text.includes('\n')) resolve(text);
        };
      });
      c.write('hello native\n');
      assert.is((await withTimeout(reply, 10_000, 'reply')).trim(), 'evitan olleh');
      c.destroy();
    } finally {
      await s.stop();
    }
  });

  Interop('native client <-> node:tls server, writes queued before the handshake', async () => {
    const server = tls.createServer({ ...p.server, minVersion: v.node, maxVersion: v.node }, (sock) => {
      sock.on('data', (d) => sock.end(Buffer.concat([Buffer.from('pong:'), d])));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const c = connectNativeTls({ host: 'localhost', port: (server.address() as AddressInfo).port, ca: p.ca.cert });
      c.write('early');
      const r = await outcome(c);
      assert.is(r.data.toString(), 'pong:early');
      assert.ok(r.clean, 'node:tls sends close_notify');
      assert.is(r.error, undefined);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  Interop.run();
}

// --- bulk --------------------------------------------------------------------

const SIZE = 16 * 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `data` in random slices, waiting for ondrain whenever write() says so. */
async function send(c: SecureConnection, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const n = Math.min(data.length - offset, randomInt(1, 256 * 1024));
    const more = c.write(data.subarray(offset, offset + n));
    offset += n;
    if (!more) await new Promise<void>((r) => (c.ondrain = () => r()));
  }
}

function receive(c: SecureConnection, expected: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let got = 0;
    c.ondata = (d) => {
      hash.update(d);
      got += d.length;
      if (got === expected) resolve(hash.digest('hex'));
      else if (got > expected) reject(new Error(`received ${got} bytes, expected ${expected}`));
    };
    c.onerror = reject;
  });
}

const Bulk = suite('native transport bulk');

Bulk('native client <-> native server: 16 MiB each way at once, SHA-256 equal, write() backpressure honoured', async () => {
  const up = randomBytes(SIZE);
  const down = randomBytes(SIZE);
  let serverHash: Promise<string> | undefined;
  let serverSent: Promise<void> | undefined;
  let sawFalse = false;
  const srv = await startNative({ ...p.server }, (c) => {
    serverHash = receive(c, SIZE);
    serverSent = send(c, down);
  });
  try {
    const c = await secure(connectNativeTls({ host: 'localhost', port: srv.port, ca: p.ca.cert }));
    const clientHash = receive(c, SIZE);
    const write = c.write.bind(c);
    c.write = (d) => {
      const r = write(d);
      if (!r) sawFalse = true;
      return r;
    };
    await withTimeout(send(c, up), 60_000, 'client send');
    assert.is(await withTimeout(serverHash!, 60_000, 'server hash'), sha256(up));
    assert.is(await withTimeout(clientHash, 60_000, 'client hash'), sha256(down));
    await serverSent;
    assert.ok(sawFalse, 'write() returned false at the high-water mark at least once');
    c.end();
  } finally {
    await srv.close();
  }
});

Bulk('node:tls client <-> native server: 16 MiB each way, SHA-256 equal', async () => {
  const up = randomBytes(SIZE);
  const down = randomBytes(SIZE);
  let accepted!: (hash: Promise<string>) => void;
  // Under TLS 1.3 the client is secure before the server: the handler runs later.
  const serverHash = new Promise<Promise<string>>((resolve) => (accepted = resolve));
  const srv = await startNative({ ...p.server }, (c) => {
    accepted(receive(c, SIZE));
    // The client's hash proves what arrived; a reset after it (the client's
    // destroy) may fail a write still pending here, which is no failure.
    send(c, down).catch(() => {});
  });
  try {
    const sock = tls.connect({ port: srv.port, host: '127.0.0.1', servername: 'localhost', ca: p.ca.cert });
    sock.on('error', () => {}); // the server's close at the end may reset it
    const got = createHash('sha256');
    let n = 0;
    const clientHash = new Promise<string>((resolve) =>
      sock.on('data', (d: Buffer) => {
        got.update(d);
        n += d.length;
        if (n === SIZE) resolve(got.digest('hex'));
      }),
    );
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    sock.write(up);
    assert.is(await withTimeout(serverHash.then((h) => h), 60_000, 'server hash'), sha256(up));
    assert.is(await withTimeout(clientHash, 60_000, 'client hash'), sha256(down));
    sock.destroy();
  } finally {
    await srv.close();
  }
});

Bulk.run();
