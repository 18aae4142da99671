// TLS half-close with the documented classes: a client sends its request and
// its close_notify, and the TLSSocket server still answers (receive, send,
// close), TLS 1.2 and 1.3, against node:tls (`end(data)`) and openssl s_client
// (its input closed). A write refused because the *peer* ended is never
// reported as the writer's own end().
import * as tls from 'node:tls';

import { ClosedError, StateError, TLSServerContext, TLSSocket, createTlsServer, type TlsError } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { TLS_SOCKET_TRANSPORT, tlsSocket } from '../helpers/tls-socket.js';

const P = pki();
const VERSIONS = [
  { name: 'TLSv1.2', node: 'TLSv1.2' as const, openssl: '-tls1_2' },
  { name: 'TLSv1.3', node: 'TLSv1.3' as const, openssl: '-tls1_3' },
];

async function listen(): Promise<TLSSocket> {
  const ctx = new TLSServerContext();
  ctx.load_certs(P.server.cert, P.server.key);
  const server = tlsSocket(null, ctx);
  await server.bind(0, '127.0.0.1');
  await server.listen();
  return server;
}

/** Reads until the peer's close_notify (receive() gives ''): what the client sent. */
async function receiveAll(peer: TLSSocket): Promise<string> {
  let text = '';
  for (;;) {
    const part = await withTimeout(peer.receive(), 10_000, 'server receive');
    if (part === '') return text;
    text += part;
  }
}

for (const v of VERSIONS) {
  const Half = suite<{ server?: TLSSocket }>(`TLSSocket half-close ${v.name} [${TLS_SOCKET_TRANSPORT}]`);
  Half.after.each((ctx) => {
    ctx.server?.close();
  });

  Half('a node:tls client that end(data)s gets the reply', async (ctx) => {
    const server = (ctx.server = await listen());
    const accepted = withTimeout(server.accept(), 10_000, 'accept');
    const client = new Promise<{ text: string; ended: boolean; protocol: string | null }>((resolve, reject) => {
      const sock = tls.connect(
        { host: '127.0.0.1', port: server.port, servername: 'localhost', ca: P.ca.cert, minVersion: v.node, maxVersion: v.node },
        () => sock.end('world'),
      );
      let text = '';
      let ended = false;
      sock.on('data', (d) => (text += d));
      sock.on('end', () => (ended = true));
      sock.on('close', () => resolve({ text, ended, protocol: sock.getProtocol?.() ?? null }));
      sock.on('error', reject);
    });
    const peer = await accepted;
    assert.is(await receiveAll(peer), 'world');
    assert.is(peer.is_connected, true, 'still connected after the client closed its side');
    assert.is(await peer.send('hello world'), 11);
    peer.close();
    const r = await withTimeout(client, 10_000, 'node client');
    assert.is(r.text, 'hello world');
    assert.ok(r.ended, 'the reply ended with close_notify and FIN');
  });

  Half('openssl s_client whose input closed (it sends close_notify) gets the reply', async (ctx) => {
    const server = (ctx.server = await listen());
    const accepted = withTimeout(server.accept(), 10_000, 'accept');
    // No -ign_eof: at the end of its input s_client sends close_notify, shuts
    // its TCP side and reads what still comes (-debug shows those reads).
    const run = runSClient(server.port, [v.openssl, '-CAfile', P.file('ca', 'crt'), '-servername', 'localhost', '-debug'], 'world\n');
    const peer = await accepted;
    assert.is(await receiveAll(peer), 'world\n');
    const reply = 'r'.repeat(300);
    assert.is(await peer.send(reply), reply.length);
    peer.close();
    const r = await withTimeout(run, 20_000, 's_client');
    assert.match(r.stderr, /^DONE$/m, 's_client reached the end of its input');
    // Its last write is its close_notify; what it read after that is the
    // reply's record and our close_notify (before the fix: the close_notify alone).
    const after = r.stdout.slice(r.stdout.lastIndexOf('\nwrite to '));
    const read = [...after.matchAll(/^read from .* => (\d+) \(/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(read > reply.length, `s_client read ${read} bytes after its close_notify`);
  });

  Half.run();
}

const Reported = suite(`a write after the peer ended [${TLS_SOCKET_TRANSPORT}]`);

Reported('is a ClosedError naming the peer, not "cannot write after end()"; the writer’s own end() is a StateError', async () => {
  const seen: TlsError[] = [];
  const server = createTlsServer({ transport: 'js', cert: P.server.cert, key: P.server.key }, (engine) => {
    engine.onend = () => {
      // The engine answers the close_notify itself (allowHalfOpen off): writing now is refused, as the peer's doing.
      queueMicrotask(() => {
        try {
          engine.write('too late');
        } catch (err) {
          seen.push(err as TlsError);
        }
      });
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const sock = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: P.ca.cert }, () => sock.end('bye'));
        sock.resume();
        sock.on('close', () => resolve());
        sock.on('error', reject);
      }),
      10_000,
      'client',
    );
    assert.is(seen.length, 1);
    assert.instance(seen[0], ClosedError);
    assert.is(seen[0]!.code, 'ERR_TLS_CLOSED');
    assert.match(seen[0]!.message, /peer/);
    assert.not.match(seen[0]!.message, /after end\(\)/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  // The writer's own end(), by contrast:
  const own = createTlsServer({ transport: 'js', cert: P.server.cert, key: P.server.key }, (engine) => {
    engine.onsecure = () => {
      engine.end();
      try {
        engine.write('x');
      } catch (err) {
        seen.push(err as TlsError);
      }
    };
  });
  await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
  try {
    const ownPort = (own.address() as { port: number }).port;
    await withTimeout(
      new Promise<void>((resolve) => {
        const sock = tls.connect({ host: '127.0.0.1', port: ownPort, servername: 'localhost', ca: P.ca.cert });
        sock.resume();
        sock.on('end', () => sock.end());
        sock.on('close', () => resolve());
        sock.on('error', () => resolve());
      }),
      10_000,
      'client of the ending server',
    );
    assert.is(seen.length, 2);
    assert.instance(seen[1], StateError);
    assert.match(seen[1]!.message, 'cannot write after end()');
  } finally {
    await new Promise<void>((r) => own.close(() => r()));
  }
});

Reported.run();
