// Keylog: the key material of each connection as NSS key log lines
// (SSLKEYLOGFILE format), through a callback and the SSLKEYLOGFILE
// environment variable. Proved three ways: node:tls's own 'keylog' event on
// the peer logs the same lines; a recorded TLS 1.3 record decrypts with the
// logged secret; a server in another process writes them to SSLKEYLOGFILE.
import { spawn } from 'node:child_process';
import { createDecipheriv, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

import { connectTls, TLS1_2_VERSION, TLSClientContext } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { connect } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/features.js';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { eachTransport } from '../helpers/transports.js';

const p = pki();
const LINE = /^(CLIENT_RANDOM|CLIENT_EARLY_TRAFFIC_SECRET|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) [0-9a-f]{64} [0-9a-f]{64,}$/;

async function nodeServer(options: tls.TlsOptions, onLine?: (line: string) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer({ ...p.server, ...options }, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  if (onLine) server.on('keylog', (line: Buffer) => onLine(line.toString().trimEnd()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const keylog = suite<{ srv?: RunningServer }>('keylog');
keylog.after.each(async (ctx) => {
  await ctx.srv?.close();
  ctx.srv = undefined;
});

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  keylog(`${version}: the server's lines equal node:tls's 'keylog' lines for the same connection`, async (ctx) => {
    const ours: string[] = [];
    ctx.srv = await startServer({ ...p.server, keylog: (line) => ours.push(line) });
    const theirs: string[] = [];
    const client = tls.connect({ host: '127.0.0.1', port: ctx.srv.port, servername: 'localhost', ca: p.ca.cert, minVersion: version, maxVersion: version });
    client.on('keylog', (line: Buffer) => theirs.push(line.toString().trimEnd()));
    await withTimeout(new Promise((resolve, reject) => client.once('data', resolve).once('error', reject)), 10_000, 'node:tls client');
    client.destroy();
    assert.ok(ours.length >= (version === 'TLSv1.3' ? 5 : 1), `lines: ${ours.length}`);
    for (const line of ours) assert.match(line, LINE);
    assert.equal([...ours].sort(), [...theirs].sort());
    if (version === 'TLSv1.2') assert.match(ours[0]!, /^CLIENT_RANDOM /);
  });
}

eachTransport(keylog, 'a client context logs too (rxtls client, node:tls server)', async (transport) => {
  const theirs: string[] = [];
  const server = await nodeServer({}, (line) => theirs.push(line));
  try {
    const ours: string[] = [];
    const ctx = new TLSClientContext();
    ctx.set_verify_locations(p.ca.cert);
    ctx.set_keylog_callback((line) => ours.push(line));
    // The server logs its last secrets when the client's Finished arrives: wait for an echo.
    const roundTrip = async () => {
      const engine = await connect({ transport, host: 'localhost', port: server.port, context: ctx });
      engine.write('ping');
      await withTimeout(new Promise((resolve) => (engine.ondata = resolve)), 10_000, 'echo');
      engine.destroy();
    };
    await roundTrip();
    assert.equal([...ours].sort(), [...theirs].sort());
    ctx.set_keylog_callback(null);
    await roundTrip();
    assert.is(ours.length, theirs.length / 2);
  } finally {
    await server.close();
  }
});

/** HKDF-Expand-Label of TLS 1.3 (RFC 8446 §7.1) for outputs of one SHA-256 block. */
function expandLabel(secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`);
  const info = Buffer.concat([Buffer.from([length >> 8, length & 255, full.length]), full, Buffer.from([0])]);
  return createHmac('sha256', secret).update(Buffer.concat([info, Buffer.from([1])])).digest().subarray(0, length);
}

eachTransport(keylog, 'a logged TLS 1.3 secret decrypts the recorded application data', async (transport) => {
  const server = await nodeServer({ ciphers: 'TLS_AES_128_GCM_SHA256' });
  // A recording proxy between the rxtls client and the server.
  const recorded: Buffer[] = [];
  const proxy = net.createServer((down) => {
    const up = net.connect(server.port, '127.0.0.1');
    down.on('data', (d) => {
      recorded.push(Buffer.from(d));
      up.write(d);
    });
    up.pipe(down);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.on('error', () => {});
    up.on('error', () => {});
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  try {
    const lines: string[] = [];
    const ctx = new TLSClientContext();
    ctx.set_verify_locations(p.ca.cert);
    ctx.set_ciphers('TLS_AES_128_GCM_SHA256');
    ctx.set_keylog_callback((line) => lines.push(line));
    const engine = connectTls({ transport, host: 'localhost', port: (proxy.address() as net.AddressInfo).port, context: ctx });
    const message = 'a secret only the keylog can reveal';
    engine.onsecure = () => engine.write(message);
    await withTimeout(new Promise((resolve) => (engine.ondata = resolve)), 10_000, 'echo');
    engine.destroy();

    // Client records: ClientHello, ChangeCipherSpec, then encrypted ones:
    // Finished (handshake keys), then the application data (traffic keys, seq 0).
    const stream = Buffer.concat(recorded);
    const records: Array<{ header: Buffer; body: Buffer }> = [];
    for (let i = 0; i + 5 <= stream.length; ) {
      const len = stream.readUInt16BE(i + 3);
      records.push({ header: stream.subarray(i, i + 5), body: stream.subarray(i + 5, i + 5 + len) });
      i += 5 + len;
    }
    const encrypted = records.filter((r) => r.header[0] === 23);
    assert.ok(encrypted.length >= 2, 'Finished and application data recorded');
    const appRecord = encrypted[1]!;
    const secretLine = lines.find((l) => l.startsWith('CLIENT_TRAFFIC_SECRET_0 '));
    assert.ok(secretLine, 'CLIENT_TRAFFIC_SECRET_0 logged');
    const secret = Buffer.from(secretLine!.split(' ')[2]!, 'hex');
    const key = expandLabel(secret, 'key', 16);
    const iv = expandLabel(secret, 'iv', 12); // seq 0: the nonce is the IV itself
    const decipher = createDecipheriv('aes-128-gcm', key, iv);
    decipher.setAAD(appRecord.header);
    decipher.setAuthTag(appRecord.body.subarray(appRecord.body.length - 16));
    const inner = Buffer.concat([decipher.update(appRecord.body.subarray(0, appRecord.body.length - 16)), decipher.final()]);
    // TLSInnerPlaintext: the data, then its content type (23 = application data).
    assert.is(inner.subarray(0, inner.length - 1).toString(), message);
    assert.is(inner[inner.length - 1], 23);
  } finally {
    await new Promise((resolve) => proxy.close(resolve));
    await server.close();
  }
});

eachTransport(keylog, 'SSLKEYLOGFILE: a server process appends the lines its client also logged', async (transport) => {
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-keylog-'));
  const file = join(dir, 'keys.log');
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('../helpers/ticket-server.ts', import.meta.url).pathname], {
    env: { ...process.env, RXTLS_CERT: p.server.cert, RXTLS_KEY: p.server.key, SSLKEYLOGFILE: file },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    let out = '';
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        proc.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(Number(out.trim()));
        });
        proc.once('close', (code) => reject(new Error(`server exited (${code})`)));
      }),
      20_000,
      'server start',
    );
    for (const max of [0, TLS1_2_VERSION]) {
      const ours: string[] = [];
      const ctx = new TLSClientContext();
      ctx.set_verify_locations(p.ca.cert);
      if (max) ctx.set_protocol_versions(TLS1_2_VERSION, max);
      ctx.set_keylog_callback((line) => ours.push(line));
      const engine = connectTls({ transport, host: 'localhost', port, context: ctx });
      await withTimeout(new Promise((resolve) => (engine.onclose = resolve)), 10_000, 'connection');
      const logged = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      for (const line of ours) assert.ok(logged.includes(line), `${line.split(' ')[0]} in SSLKEYLOGFILE`);
      for (const line of logged) assert.match(line, LINE);
    }
  } finally {
    proc.stdin!.end();
    if (proc.exitCode === null) await new Promise((resolve) => proc.once('close', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});

eachTransport(keylog, 'a keylog callback that throws fails the handshake with its error as cause', async (transport, ctx) => {
  const boom = new Error('keylog sink broken');
  ctx.srv = await startServer({ transport, ...p.server, keylog: () => { throw boom; } });
  const client = connectTls({ transport, host: 'localhost', port: ctx.srv.port, ca: p.ca.cert });
  const clientError = await withTimeout(new Promise((resolve) => (client.onclose = resolve)), 10_000, 'client close');
  assert.ok(clientError, 'the client saw the connection fail');
  await withTimeout(new Promise<void>((resolve) => {
    const check = () => (ctx.srv!.errors.length > 0 ? resolve() : setTimeout(check, 10));
    check();
  }), 5000, 'server error');
  const err = ctx.srv.errors[0] as Error & { code: string; cause?: unknown };
  assert.is(err.code, 'ERR_TLS_HANDSHAKE');
  assert.is(err.cause, boom);
});

keylog.run();
