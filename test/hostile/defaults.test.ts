// Secure defaults, proven with real tools against a running rxtls server
// (default settings: no options but a certificate and key):
// - TLS 1.0 and 1.1 are refused (openssl s_client -tls1 / -tls1_1, with the
//   client's own security level lowered so it really offers them);
// - renegotiation is refused (openssl s_client, then `R`), and an rxtls
//   client refuses a server's HelloRequest (openssl s_server, then `r`);
// - no NULL, export, RC4, 3DES or anonymous suite is accepted (s_client
//   -cipher) or offered by an rxtls client (openssl s_server offering only those);
// - no CBC suite is accepted (TLS 1.2 is AEAD only: GCM, ChaCha20-Poly1305);
// - sslscan (Debian's package) sees only TLS 1.2/1.3, forward-secret AEAD
//   suites and no renegotiation; skipped with a message when sslscan is not
//   installed (testssl.sh's verdict: test/hostile/testssl.test.ts);
// - a handshake timeout (default 10 s, configurable) drops a peer that sends
//   half a ClientHello and waits, or trickles it; an rx idle timeout drops a
//   silent peer after its handshake.
// Clients verifying the certificate and host by default: test/core/failures.test.ts
// ("an untrusted (self-signed) server is rejected by default", "a server
// certificate for another host name is rejected").
import { spawn, spawnSync } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';

import { connectTls, createTlsServer, DEFAULT_HANDSHAKE_TIMEOUT, ErrorCode, TimeoutError, type NativeTlsServer, type TlsError } from '@rxtls/core';
import { listen, read } from '@rxtls/rx';
import { mergeMap, catchError, EMPTY } from 'rxjs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { runSClient, startSServer } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';
import { clientContext, side, take } from './lib/memory.js';
import { rawSocket, rawTlsClient, whenClosed } from './lib/raw-client.js';

interface Running {
  server: Server | NativeTlsServer;
  port: number;
  errors: TlsError[];
  close(): Promise<void>;
}

/** An rxtls server with default settings (plus `extra`), recording every connection error. */
async function rxtlsServer(extra: { handshakeTimeout?: number } = {}): Promise<Running> {
  const errors: TlsError[] = [];
  const server = createTlsServer({ cert: pki().server.cert, key: pki().server.key, ...extra }, (engine) => {
    engine.ondata = (c) => engine.write(c);
    engine.onerror = (err) => errors.push(err);
  });
  // The native transport (the default): a failed handshake never reaches the handler.
  server.on('tlsClientError', (err: TlsError) => errors.push(err));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    errors,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, label: string, ms = 10_000): Promise<void> {
  await withTimeout(
    (async () => {
      while (!check()) await new Promise((r) => setTimeout(r, 10));
    })(),
    ms,
    label,
  );
}

const KNOWN = new Set<string>(Object.values(ErrorCode));

// The client's security level 0 lets openssl really send old versions and
// weak suites: the refusal we see is then the server's, not the client's.
const WEAK_CLIENT = ['-cipher', 'ALL:eNULL:@SECLEVEL=0'];

const Versions = suite('protocol versions');

Versions('TLS 1.0 and TLS 1.1 are refused with a protocol_version alert; TLS 1.2 and 1.3 work', async () => {
  const s = await rxtlsServer();
  try {
    for (const flag of ['-tls1', '-tls1_1']) {
      const r = await runSClient(s.port, [flag, ...WEAK_CLIENT, '-servername', 'localhost']);
      const out = r.stdout + r.stderr;
      assert.is.not(r.code, 0, `${flag}: s_client failed`);
      assert.match(out, /alert protocol version|SSL alert number 70/, `${flag}: the server answered protocol_version`);
      assert.not.match(out, /Cipher is (?!\(NONE\))/, `${flag}: no cipher negotiated`);
    }
    await until(() => s.errors.length >= 2, 'server errors recorded');
    for (const err of s.errors.slice(0, 2)) {
      assert.is(err.code, ErrorCode.Handshake);
      assert.match(err.reason ?? '', /unsupported protocol|version too low/);
    }
    for (const [flag, proto] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
      const ok = await runSClient(s.port, [flag, '-CAfile', pki().file('ca', 'crt'), '-verify_return_error', '-servername', 'localhost'], 'Q\n');
      assert.match(ok.stdout, new RegExp(`New, ${proto.replace('.', '\\.')}, Cipher is`), `${flag} handshake works`);
    }
  } finally {
    await s.close();
  }
});

const Reneg = suite('renegotiation');

Reneg('a client-initiated renegotiation (openssl s_client, R) is refused', async () => {
  const s = await rxtlsServer();
  const proc = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${s.port}`, '-tls1_2', '-servername', 'localhost', '-CAfile', pki().file('ca', 'crt')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  proc.stdin.on('error', () => {});
  const exited = new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
  try {
    await until(() => /Verify return code: 0/.test(out) && /---\s*$/.test(out), 's_client handshake');
    proc.stdin.write('R\n');
    const code = await withTimeout(exited, 10_000, 's_client exit after R');
    assert.match(out, /RENEGOTIATING/);
    assert.match(out, /no renegotiation/, 'the server refused: no_renegotiation');
    assert.is.not(code, 0);
    await until(() => s.errors.length >= 1, 'server error recorded');
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
    await s.close();
  }
});

Reneg('a server-initiated renegotiation (openssl s_server, r) is refused by an rxtls client', async () => {
  const srv = await startSServer(['-tls1_2', '-cert', pki().file('server', 'crt'), '-key', pki().file('server', 'key')]);
  try {
    const engine = connectTls({ host: 'localhost', port: srv.port, ca: pki().ca.cert });
    const closed = new Promise<TlsError | undefined>((r) => (engine.onclose = r));
    engine.onerror = () => undefined;
    await withTimeout(new Promise<void>((r, j) => ((engine.onsecure = r), closed.then(() => j(new Error('closed before secure'))))), 10_000, 'handshake');
    assert.is(engine.info().protocol, 'TLSv1.2');
    srv.proc.stdin!.write('r\n'); // s_server: send a HelloRequest
    // The client answers no_renegotiation; s_server insists and aborts: the
    // connection ends with a typed error, never with a second handshake.
    const err = await withTimeout(closed, 10_000, 'connection ends after the HelloRequest');
    assert.ok(err, 'the connection failed');
    assert.ok(KNOWN.has(err!.code), err!.code);
    // s_server may print the alert a moment after our side closed.
    await until(() => /no renegotiation/.test(srv.output()), 's_server saw the no_renegotiation alert');
  } finally {
    await srv.stop();
  }
});

const Ciphers = suite('cipher suites');

Ciphers('NULL, export, RC4, 3DES and anonymous suites are not accepted by an rxtls server', async () => {
  const s = await rxtlsServer();
  try {
    const r = await runSClient(s.port, ['-tls1_2', '-cipher', 'NULL:eNULL:aNULL:EXPORT:RC4:3DES:@SECLEVEL=0', '-servername', 'localhost']);
    assert.is.not(r.code, 0);
    assert.match(r.stdout + r.stderr, /handshake failure|alert number 40/);
    await until(() => s.errors.length >= 1, 'server error recorded');
    assert.match(s.errors[0]!.reason ?? '', /no shared cipher/);
  } finally {
    await s.close();
  }
});

Ciphers('CBC suites (AES, Camellia; ECDHE or not) are not accepted by an rxtls server, AEAD ones are', async () => {
  const s = await rxtlsServer();
  try {
    const r = await runSClient(s.port, ['-tls1_2', '-cipher', 'AES:CAMELLIA:!AESGCM:!AESCCM:@SECLEVEL=0', '-servername', 'localhost']);
    assert.not.match(r.stdout, /Cipher is (?!\(NONE\))/, r.stdout);
    await until(() => s.errors.length >= 1, 'server error recorded');
    assert.match(s.errors[0]!.reason ?? '', /no shared cipher/);
    for (const suite of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      const ok = await runSClient(s.port, ['-tls1_2', '-cipher', suite, '-servername', 'localhost'], 'Q\n');
      assert.match(ok.stdout, new RegExp(`Cipher is ${suite}\\n`), suite);
    }
  } finally {
    await s.close();
  }
});

Ciphers('an rxtls client offers none of them: a server accepting only those fails the handshake', async () => {
  const srv = await startSServer([
    '-tls1_2',
    '-cipher', 'NULL:eNULL:aNULL:EXPORT:RC4:3DES:@SECLEVEL=0',
    '-cert', pki().file('server', 'crt'),
    '-key', pki().file('server', 'key'),
  ]);
  try {
    const err = await withTimeout(
      new Promise<TlsError>((resolve, reject) => {
        const engine = connectTls({ host: 'localhost', port: srv.port, ca: pki().ca.cert });
        engine.onsecure = () => reject(new Error('handshake unexpectedly succeeded'));
        engine.onclose = (e) => (e ? resolve(e) : reject(new Error('closed without error')));
      }),
      10_000,
      'client error',
    );
    assert.is(err.code, ErrorCode.Handshake);
    // s_server may print its reason a moment after the client saw the alert.
    await withTimeout(
      (async () => {
        while (!/no shared cipher/.test(srv.output())) await new Promise((r) => setTimeout(r, 20));
      })(),
      5_000,
      's_server reports no shared cipher',
    );
  } finally {
    await srv.stop();
  }
});

Ciphers('sslscan sees TLS 1.2 and 1.3 only, no weak suite, no renegotiation', async () => {
  if (spawnSync('sslscan', ['--version']).error) {
    console.log('  SKIPPED: sslscan is not installed (Debian: apt-get install -y sslscan)');
    return;
  }
  const s = await rxtlsServer();
  try {
    const scan = await withTimeout(
      new Promise<string>((resolve) => {
        const p = spawn('sslscan', ['--no-colour', `127.0.0.1:${s.port}`]);
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.once('close', () => resolve(out));
      }),
      60_000,
      'sslscan',
    );
    for (const v of ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1']) assert.match(scan, new RegExp(`^${v.replace('.', '\\.')}\\s+disabled`, 'm'), `${v} disabled`);
    for (const v of ['TLSv1.2', 'TLSv1.3']) assert.match(scan, new RegExp(`^${v.replace('.', '\\.')}\\s+enabled`, 'm'), `${v} enabled`);
    assert.match(scan, /Session renegotiation not supported/);
    assert.not.match(scan, /Insecure session renegotiation supported/);
    const accepted = scan.split('\n').filter((l) => /^(Preferred|Accepted)\s/.test(l));
    assert.ok(accepted.length > 0, 'some suites accepted');
    for (const line of accepted) {
      assert.not.match(line, /NULL|RC4|DES|EXP|ADH|AECDH|anon|MD5|PSK|SRP/, `weak suite accepted: ${line}`);
      assert.match(line, /TLSv1\.[23]/);
      // Forward secrecy: TLS 1.3 suites, or ECDHE/DHE key exchange.
      assert.match(line, /TLSv1\.3|ECDHE|DHE/, `forward-secret: ${line}`);
      // AEAD only: no CBC suite (LUCKY13 and its kin).
      assert.match(line, /GCM|CHACHA20/, `AEAD: ${line}`);
    }
    assert.match(scan, /not vulnerable to heartbleed/);
  } finally {
    await s.close();
  }
});

const Timeouts = suite('timeouts');

let helloCache: Buffer | undefined;
function clientHello(): Buffer {
  if (!helloCache) {
    const c = side(clientContext(), false);
    helloCache = take(c, c.session.cycle())!;
    c.session.free();
  }
  return helloCache;
}

/** Sends half a ClientHello and waits; resolves with the server's error once it dropped us. */
async function halfHello(s: Running, trickle = false): Promise<TlsError> {
  const socket = await rawSocket(s.port);
  const closed = whenClosed(socket);
  const before = s.errors.length;
  const half = clientHello().subarray(0, clientHello().length >> 1);
  if (!trickle) socket.write(half);
  else {
    // A slow loris: one byte every 50 ms; the timeout bounds the whole handshake, not each read.
    let i = 0;
    const timer = setInterval(() => (i < half.length && !socket.destroyed ? socket.write(half.subarray(i, ++i)) : clearInterval(timer)), 50);
    void closed.then(() => clearInterval(timer));
  }
  await withTimeout(closed, 20_000, 'server drops the half-open handshake');
  await until(() => s.errors.length > before, 'server error recorded');
  return s.errors[s.errors.length - 1]!;
}

Timeouts('the default handshake timeout is 10 s', () => {
  assert.is(DEFAULT_HANDSHAKE_TIMEOUT, 10_000);
});

Timeouts('half a ClientHello, then silence: dropped by a configured handshake timeout, and by the 10 s default', async () => {
  const short = await rxtlsServer({ handshakeTimeout: 300 });
  const dflt = await rxtlsServer();
  try {
    // Both at once: the default one takes ten seconds.
    const [a, b, c] = await Promise.all([halfHello(short), halfHello(short, true), halfHello(dflt)]);
    for (const err of [a, b, c]) {
      assert.instance(err, TimeoutError);
      assert.is(err.code, ErrorCode.Timeout);
    }
    assert.match(a.message, /300 ms/);
    assert.match(c.message, /10000 ms/);
  } finally {
    await short.close();
    await dflt.close();
  }
});

Timeouts('a client facing a server that never answers times out too', async () => {
  const { createServer } = await import('node:net');
  const sockets: import('node:net').Socket[] = [];
  const mute = createServer((sock) => sockets.push(sock)); // accepts, never speaks
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  try {
    const err = await withTimeout(
      new Promise<TlsError | undefined>((resolve) => {
        const engine = connectTls({ host: 'localhost', port: (mute.address() as AddressInfo).port, ca: pki().ca.cert, handshakeTimeout: 300 });
        engine.onclose = (e) => resolve(e);
      }),
      10_000,
      'client handshake timeout',
    );
    assert.instance(err, TimeoutError);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => mute.close(() => r()));
  }
});

Timeouts('rx idleTimeout: a peer silent after its handshake is dropped with a TimeoutError', async () => {
  let port = 0;
  const errors: unknown[] = [];
  const sub = listen({
    cert: pki().server.cert,
    key: pki().server.key,
    idleTimeout: 300,
    onListening: (a) => (port = a.port),
  })
    .pipe(
      mergeMap((conn) =>
        read(conn).pipe(
          catchError((err) => {
            errors.push(err);
            return EMPTY;
          }),
        ),
      ),
    )
    .subscribe();
  try {
    await until(() => port !== 0, 'listening');
    const client = await rawTlsClient(port, clientContext());
    await withTimeout(client.closed, 10_000, 'server drops the idle connection');
    await until(() => errors.length > 0, 'read() errored');
    assert.instance(errors[0], TimeoutError);
    assert.match((errors[0] as Error).message, /idle/);
    client.tls.session.free();
  } finally {
    sub.unsubscribe();
  }
});

Versions.run();
Reneg.run();
Ciphers.run();
Timeouts.run();
