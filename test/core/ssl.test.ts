// The documented SSL class on real socket descriptors: against openssl
// s_server -www and node:tls, both roles, verification, text and bytes,
// shutdown, and misuse.
import { randomBytes } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import {
  ClosedError,
  Pointer,
  SSL,
  SSL_VERIFY_NONE,
  SSLContext,
  Socket,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
  TLSClientContext,
  TLSServerContext,
  TLSContext,
  TlsError,
} from '@rxtls/core';

import { startGate } from '../helpers/gate.js';
import { rejectsWith } from '../helpers/assert.js';
import { withTimeout } from '../helpers/net.js';
import { readAll, sslContexts, withServerSsl } from '../helpers/ssl.js';
import { startSServer, type OpensslServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const P = pki();

const { clientContext, serverContext } = sslContexts(P);

/** A connected, paused net.Socket and its descriptor. */
async function tcp(port: number): Promise<{ sock: net.Socket; fd: number }> {
  // Paused before it connects, so Node never starts reading the descriptor:
  // a pause() after 'connect' is too late (libuv already reads, and the
  // server's first flight could go to Node instead of OpenSSL).
  const sock = new net.Socket();
  sock.pause();
  sock.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  return { sock, fd: (sock as unknown as { _handle: { fd: number } })._handle.fd };
}

// ---------------------------------------------------------------------------
const www = suite('SSL: client over set_fd against openssl s_server -www');
let server: OpensslServer;
www.before(async () => {
  server = await startSServer(['-www', '-cert', P.file('server', 'crt'), '-key', P.file('server', 'key')]);
});
www.after(async () => {
  await server.stop();
});

www("fetches the page over a Socket's descriptor while a timer on the same loop keeps firing", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  // The gate lets the connection through only after the timer fired five
  // times more: connect() cannot finish unless the loop runs while it waits.
  let openAt = Infinity;
  const gate = await startGate(server.port, () => ticks >= openAt);
  const sock = new Socket();
  try {
    await sock.connect('127.0.0.1', gate.port);
    const ssl = new SSL(clientContext());
    assert.is(ssl.get_fd(), -1);
    ssl.set_fd(sock.id);
    assert.is(ssl.get_fd(), sock.id);
    ssl.set_connect_state();
    const before = ticks;
    openAt = ticks + 5;
    await withTimeout(ssl.connect(), 10_000, 'connect');
    assert.ok(ticks >= before + 5, `the timer fired ${ticks - before} times during connect()`);
    assert.is(ssl.error(), 0);
    assert.is(await ssl.write('GET / HTTP/1.0\r\n\r\n'), 18);
    const page = await withTimeout(readAll(ssl), 10_000, 'read');
    assert.match(page, /^HTTP\/1\.0 200 ok\r\n/);
    assert.match(page, /<\/BODY><\/HTML>\r?\n\r?\n?$/);
    assert.ok(ssl.info().receivedShutdown, 'the page ended with close_notify');
    ssl.free();
  } finally {
    clearInterval(timer);
    sock.close();
    await gate.stop();
  }
});

for (const [name, version] of [
  ['TLSv1.2', TLS1_2_VERSION],
  ['TLSv1.3', TLS1_3_VERSION],
] as const) {
  www(`fetches the page whole over ${name} (net.Socket descriptor)`, async () => {
    const ctx = clientContext();
    ctx.set_protocol_versions(version, version);
    const { sock, fd } = await tcp(server.port);
    try {
      const ssl = new SSL(ctx);
      ssl.set_fd(fd);
      await ssl.connect(); // no state set: connect() sets connect state
      assert.is(ssl.info().protocol, name);
      await ssl.write(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
      const page = await readAll(ssl);
      assert.match(page, /^HTTP\/1\.0 200 ok/);
      assert.match(page, /<\/HTML>/);
      assert.is(await ssl.read(), '', 'reads after the end stay at the end');
      ssl.free();
    } finally {
      sock.destroy();
    }
  });
}

www('get_pointer, context and error(code)', async () => {
  const ctx = clientContext();
  const ssl = new SSL(ctx);
  assert.is(ssl.context, ctx);
  const p = ssl.get_pointer();
  assert.instance(p, Pointer);
  assert.is(p.kind, 'SSL');
  assert.ok(p.equals(ssl.get_pointer()));
  assert.is(ssl.error(), 0);
  assert.is(ssl.error(1), 0, 'SSL_get_error(ssl, 1) is SSL_ERROR_NONE');
  ssl.free();
});

www.run();

// ---------------------------------------------------------------------------
const verify = suite('SSL: verification by default');
const servers: OpensslServer[] = [];
verify.after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function sserver(name: 'selfSigned' | 'server' | 'otherHost'): Promise<OpensslServer> {
  const s = await startSServer(['-www', '-cert', P.file(name, 'crt'), '-key', P.file(name, 'key')]);
  servers.push(s);
  return s;
}

async function connectTo(port: number, ctx: SSLContext, host?: string): Promise<SSL> {
  const { sock, fd } = await tcp(port);
  const ssl = new SSL(ctx);
  try {
    ssl.set_fd(fd);
    ssl.set_connect_state();
    if (host) ssl.set_host(host);
    await ssl.connect();
    return ssl;
  } finally {
    sock.destroy();
  }
}

verify('a default client refuses a self-signed server, with the reason', async () => {
  const s = await sserver('selfSigned');
  const err = await rejectsWith(connectTo(s.port, new TLSClientContext()), 'ERR_TLS_CERT_VERIFY');
  assert.is((err as TlsError & { verifyCode: number }).verifyCode, 18);
  assert.match((err as TlsError & { verifyMessage: string }).verifyMessage, /self.signed/);
});

verify('a default client refuses a certificate for another host (set_host) and for another IP', async () => {
  const s = await sserver('server');
  const err = await rejectsWith(connectTo(s.port, clientContext(), 'other.example'), 'ERR_TLS_CERT_VERIFY');
  assert.is((err as TlsError & { verifyCode: number }).verifyCode, 62, 'hostname mismatch');
  const other = await sserver('otherHost');
  const err2 = await rejectsWith(connectTo(other.port, clientContext()), 'ERR_TLS_CERT_VERIFY');
  assert.is((err2 as TlsError & { verifyCode: number }).verifyCode, 64, 'IP address mismatch');
});

verify('the same client with the CA (set_verify_locations) connects by name and by IP', async () => {
  const s = await sserver('server');
  (await connectTo(s.port, clientContext(), 'localhost')).free();
  (await connectTo(s.port, clientContext())).free();
});

verify('an explicit set_verify(SSL_VERIFY_NONE) connects to a self-signed server', async () => {
  const s = await sserver('selfSigned');
  const ctx = new TLSClientContext();
  ctx.set_verify(SSL_VERIFY_NONE);
  const ssl = await connectTo(s.port, ctx);
  assert.is(ssl.info().verifyResult, 18, 'the result is known, not enforced');
  ssl.free();
});

verify.run();

// ---------------------------------------------------------------------------
const server_ = suite('SSL: server over set_fd against node:tls clients');

function tlsClient(port: number): tls.TLSSocket {
  return tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: P.ca.cert });
}

server_('accept(), echo text, shutdown() sends close_notify the client sees as end', async () => {
  await withServerSsl(
    serverContext(),
    async (ssl) => {
      assert.is(await ssl.accept(), true);
      const line = await ssl.read();
      await ssl.write(`echo: ${line}`);
      await ssl.shutdown();
      assert.ok(ssl.info().sentShutdown);
      assert.is(await ssl.read(), '', "the client's close_notify reads as ''");
    },
    async (port) => {
      const c = tlsClient(port);
      await new Promise<void>((r) => c.once('secureConnect', () => r()));
      c.write('héllo €');
      let got = '';
      c.setEncoding('utf8');
      c.on('data', (d) => (got += d));
      await new Promise<void>((r) => c.once('end', () => r()));
      c.end();
      assert.is(got, 'echo: héllo €');
    },
  );
});

server_('binary data round-trips bit-exact through read_bytes / write(Buffer)', async () => {
  const payload = randomBytes(200_000);
  await withServerSsl(
    serverContext(),
    async (ssl) => {
      await ssl.accept();
      const parts: Buffer[] = [];
      let n = 0;
      while (n < payload.length) {
        const b = await ssl.read_bytes();
        assert.ok(b.length > 0);
        parts.push(b);
        n += b.length;
      }
      assert.ok(Buffer.concat(parts).equals(payload), 'the server got the bytes exactly');
      assert.is(await ssl.write(Buffer.concat(parts)), payload.length);
      await ssl.shutdown();
    },
    async (port) => {
      const c = tlsClient(port);
      await new Promise<void>((r) => c.once('secureConnect', () => r()));
      c.write(payload);
      const chunks: Buffer[] = [];
      c.on('data', (d: Buffer) => chunks.push(d));
      await new Promise<void>((r) => c.once('end', () => r()));
      c.end();
      assert.ok(Buffer.concat(chunks).equals(payload), 'the client got the bytes back exactly');
    },
  );
});

server_('read() never splits a UTF-8 character across reads; read_bytes takes held bytes first', async () => {
  const euro = Buffer.from('€', 'utf8'); // e2 82 ac
  await withServerSsl(
    serverContext(),
    async (ssl) => {
      await ssl.accept();
      // The client sends the character in two records, the second only after
      // our "go": the first read must wait for the whole character.
      const first = ssl.read();
      await ssl.write('go');
      assert.is(await first, '€');
      await ssl.write('go');
      // An incomplete tail held by a text read is given to the next byte read.
      assert.is(await ssl.read(), 'a');
      assert.equal([...(await ssl.read_bytes())], [0xe2]);
      await ssl.shutdown();
    },
    async (port) => {
      const c = tlsClient(port);
      await new Promise<void>((r) => c.once('secureConnect', () => r()));
      let step = 0;
      c.on('data', () => {
        step++;
        if (step === 1) c.write(euro.subarray(2));
        if (step === 2) c.write(Buffer.from([0x61, 0xe2]));
      });
      c.write(euro.subarray(0, 2));
      await new Promise<void>((r) => c.once('end', () => r()));
      c.end();
    },
  );
});

server_.run();

// ---------------------------------------------------------------------------
const misuse = suite('SSL: misuse throws with a stable code; the process survives');

misuse('wrong types', async () => {
  await rejectsWith(() => new SSL({} as SSLContext), 'ERR_TLS_INVALID_ARGUMENT', /context/);
  const ssl = new SSL(new TLSContext());
  await rejectsWith(() => ssl.set_fd('3' as unknown as number), 'ERR_TLS_INVALID_ARGUMENT', /"fd"/);
  await rejectsWith(() => ssl.set_fd(-1), 'ERR_TLS_INVALID_ARGUMENT', /"fd"/);
  // An open descriptor that is no socket.
  const file = openSync(process.execPath, 'r');
  try {
    await rejectsWith(() => ssl.set_fd(file), 'ERR_TLS_INVALID_ARGUMENT', /socket/);
  } finally {
    closeSync(file);
  }
  await rejectsWith(() => ssl.set_fd(987_654), 'ERR_TLS_INVALID_ARGUMENT', /open descriptor/);
  await rejectsWith(ssl.write(42 as unknown as string), 'ERR_TLS_INVALID_ARGUMENT', /"data"/);
  await rejectsWith(ssl.read(0), 'ERR_TLS_INVALID_ARGUMENT', /"length"/);
  await rejectsWith(ssl.read(1.5), 'ERR_TLS_INVALID_ARGUMENT', /"length"/);
  await rejectsWith(() => ssl.error(0.5), 'ERR_TLS_INVALID_ARGUMENT');
  await rejectsWith(() => ssl.set_host(''), 'ERR_TLS_INVALID_ARGUMENT');
  ssl.free();
});

misuse('wrong order and wrong role', async () => {
  const ssl = new SSL(new TLSContext());
  await rejectsWith(ssl.connect(), 'ERR_TLS_STATE', /before set_fd/);
  await rejectsWith(ssl.read(), 'ERR_TLS_STATE', /before set_fd/);
  await rejectsWith(() => new SSL(new TLSServerContext()).set_connect_state(), 'ERR_TLS_STATE', /server context/);
  await rejectsWith(() => new SSL(new TLSClientContext()).set_accept_state(), 'ERR_TLS_STATE', /client context/);
  const srv = net.createServer({ pauseOnConnect: true }, (s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { sock, fd } = await tcp((srv.address() as net.AddressInfo).port);
  try {
    ssl.set_fd(fd);
    await rejectsWith(ssl.read(), 'ERR_TLS_STATE', /set_connect_state/);
    ssl.set_accept_state();
    await rejectsWith(ssl.connect(), 'ERR_TLS_STATE', /accept state/);
    // The peer closed at once: the handshake fails with a reason, no crash.
    await rejectsWith(ssl.accept(), 'ERR_TLS_HANDSHAKE');
    assert.ok(ssl.error() !== 0);
    await rejectsWith(() => ssl.set_fd(fd), 'ERR_TLS_STATE', /handshake started/);
  } finally {
    ssl.free();
    sock.destroy();
    await new Promise((r) => srv.close(r));
  }
});

misuse('after free every method throws ERR_TLS_CLOSED; a second free too; a pending wait rejects', async () => {
  // A server that accepts and never speaks: the client's connect() waits.
  const held: net.Socket[] = [];
  const srv = net.createServer({ pauseOnConnect: true }, (s) => held.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { sock, fd } = await tcp((srv.address() as net.AddressInfo).port);
  try {
    const ssl = new SSL(new TLSClientContext());
    ssl.set_fd(fd);
    const pending = ssl.connect();
    ssl.free();
    await rejectsWith(pending, 'ERR_TLS_CLOSED', /freed while waiting/);
    assert.ok(ssl.is_freed);
    await rejectsWith(() => ssl.free(), 'ERR_TLS_CLOSED', /already been freed/);
    for (const call of [
      () => ssl.set_connect_state(),
      () => ssl.set_accept_state(),
      () => ssl.get_fd(),
      () => ssl.set_fd(fd),
      () => ssl.connect(),
      () => ssl.accept(),
      () => ssl.write('x'),
      () => ssl.read(),
      () => ssl.read_bytes(),
      () => ssl.error(),
      () => ssl.shutdown(),
      () => ssl.get_pointer(),
      () => ssl.info(),
    ])
      await rejectsWith(call, 'ERR_TLS_CLOSED');
    assert.instance(new ClosedError('x'), TlsError);
    // The caller's descriptor is still open and usable after free().
    assert.ok(sock.write('still open'));
  } finally {
    sock.destroy();
    for (const s of held) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});

misuse.run();
