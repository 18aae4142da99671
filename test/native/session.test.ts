// The native engine with no sockets: two sessions pump their ciphertext into
// each other until both are done (the memory-BIO design makes this cheap).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

import { binding, CycleFlag, candidatePaths, type NativeSession, type SessionOut } from '@rxtls/native';
import '@rxtls/core'; // installs the error factory: native errors become TlsError classes
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { pki } from '../helpers/pki.js';

const { TLS_method, TLS_client_method, TLS_server_method } = binding.methods;

interface Side {
  session: NativeSession;
  out: SessionOut;
  clear: Buffer[];
  secure: boolean;
  peerClosed: boolean;
  error: Error | undefined;
}

function side(isServer: boolean, options: { ca?: string; verifyHost?: string; servername?: string; max?: number } = {}): Side {
  const ctx = new binding.Context(isServer ? TLS_server_method : TLS_client_method);
  if (isServer) {
    ctx.useCertificateChain(pki().server.cert, false, 1);
    ctx.usePrivateKey(pki().server.key, false, 1);
  }
  if (options.ca) ctx.addCACertificates(options.ca);
  if (options.max) ctx.setProtocolVersions(0, options.max);
  const out: SessionOut = [undefined, undefined, undefined];
  const session = new binding.Session(ctx, isServer, out, {
    ...(options.verifyHost ? { verifyHost: options.verifyHost } : {}),
    ...(options.servername ? { servername: options.servername } : {}),
  });
  return { session, out, clear: [], secure: false, peerClosed: false, error: undefined };
}

/** Applies one result of cycle/write/shutdown; returns ciphertext for the peer. */
function take(s: Side, flags: number): Buffer | undefined {
  if (flags & CycleFlag.Secure) s.secure = true;
  if (flags & CycleFlag.ClearOut) s.clear.push(s.out[0]!);
  if (flags & CycleFlag.PeerClosed) s.peerClosed = true;
  if (flags & CycleFlag.Error) s.error = s.out[2];
  return flags & CycleFlag.EncOut ? s.out[1] : undefined;
}

/** Moves ciphertext both ways until neither side has anything to send; `first` is a's output. */
function pump(a: Side, b: Side, first?: Buffer): void {
  let toB = first ?? take(a, a.session.cycle());
  let toA: Buffer | undefined;
  for (let i = 0; i < 100 && (toA || toB); i++) {
    // A side that failed takes no more input; its alert has already been passed on.
    if (b.error) toB = undefined;
    if (a.error) toA = undefined;
    if (toB) {
      toA = take(b, b.session.cycle(toB));
      toB = undefined;
    }
    if (toA) {
      toB = take(a, a.session.cycle(toA));
      toA = undefined;
    }
  }
}

const Native = suite('native session');

Native('runs on the OpenSSL that Node ships, linked from the node binary', () => {
  assert.is(binding.opensslVersion, process.versions.openssl);
  const path = candidatePaths.find((p) => {
    try {
      createRequire(import.meta.url)(p);
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(path, 'addon found');
  const ldd = execFileSync('ldd', [path!], { encoding: 'utf8' });
  assert.not.match(ldd, /libssl|libcrypto/);
});

Native('handshake, data both ways and close_notify between two memory sessions', () => {
  const client = side(false, { ca: pki().ca.cert, verifyHost: 'localhost', servername: 'localhost' });
  const server = side(true);
  pump(client, server);
  assert.ok(client.secure && server.secure, 'both secure');
  assert.is(client.session.info().protocol, 'TLSv1.3');
  assert.is(server.session.info().servername, 'localhost');
  assert.equal(client.session.peerCertificate()!.subject, { CN: 'localhost' });

  const payload = randomBytes(100_000);
  pump(client, server, take(client, client.session.write([payload.subarray(0, 10), payload.subarray(10)])));
  const got = Buffer.concat(server.clear);
  assert.is(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(payload).digest('hex'));

  pump(client, server, take(client, client.session.shutdown()));
  assert.ok(server.peerClosed, 'server saw close_notify');
  pump(server, client, take(server, server.session.shutdown()));
  assert.ok(client.peerClosed, 'client saw close_notify');
  client.session.free();
  server.session.free();
});

Native('TLS 1.2 works when the client caps the version', () => {
  const client = side(false, { ca: pki().ca.cert, verifyHost: 'localhost', max: 0x0303 });
  const server = side(true);
  pump(client, server);
  assert.ok(client.secure && server.secure);
  assert.is(server.session.info().protocol, 'TLSv1.2');
  assert.match(server.session.info().cipher ?? '', /ECDHE/);
});

Native('an untrusted server fails verification with the verify reason', () => {
  const client = side(false, { verifyHost: 'localhost' });
  const server = side(true);
  pump(client, server);
  assert.not.ok(client.secure);
  const err = client.error as Error & { code: string; verifyCode: number; verifyMessage: string };
  assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
  assert.is(err.verifyCode, 20); // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  assert.match(err.verifyMessage, /local issuer/);
  assert.is((server.error as Error & { code: string }).code, 'ERR_TLS_HANDSHAKE');
});

Native('a wrong host name fails verification', () => {
  const client = side(false, { ca: pki().ca.cert, verifyHost: 'not-this-host.test' });
  const server = side(true);
  pump(client, server);
  const err = client.error as Error & { code: string; verifyCode: number; verifyMessage: string };
  assert.is(err.code, 'ERR_TLS_CERT_VERIFY');
  assert.is(err.verifyCode, 62); // X509_V_ERR_HOSTNAME_MISMATCH
});

Native('garbage input is a handshake error, and the session refuses more input', () => {
  const server = side(true);
  const flags = server.session.cycle(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  assert.ok(flags & CycleFlag.Error);
  const err = server.out[2] as Error & { code: string; reason: string };
  assert.is(err.code, 'ERR_TLS_HANDSHAKE');
  assert.match(err.reason, /http request|wrong version/);
  assert.throws(() => server.session.cycle(Buffer.from('x')), (e: Error & { code: string }) => e.code === 'ERR_TLS_STATE');
});

const Misuse = suite('native misuse');

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

Misuse('wrong types are InvalidArgument errors', () => {
  const Ctx = binding.Context as unknown as new (...a: unknown[]) => unknown;
  const Sess = binding.Session as unknown as new (...a: unknown[]) => unknown;
  assert.is(codeOf(() => new Ctx(123n)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => new Ctx('TLS_method')), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => new Sess({}, false, [])), 'ERR_TLS_INVALID_ARGUMENT');
  const ctx = new binding.Context(TLS_method);
  assert.is(codeOf(() => new Sess(ctx, 'yes', [])), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => new Sess(ctx, false, {})), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => ctx.setVerify(-1)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => ctx.setVerify(2)), 'ERR_TLS_INVALID_ARGUMENT'); // FAIL_IF_NO_PEER_CERT without PEER
  assert.is(codeOf(() => ctx.setCipherList('NOT-A-CIPHER')), 'ERR_TLS_CONFIG');
  assert.is(codeOf(() => ctx.useCertificateChain('not pem', false, 1)), 'ERR_TLS_CONFIG');
  assert.is(codeOf(() => ctx.useCertificateChain('/nonexistent.pem', true, 1)), 'ERR_TLS_CONFIG');
  assert.is(codeOf(() => ctx.setProtocolVersions(0x0302, 0)), 'ERR_TLS_INVALID_ARGUMENT');
  const s = new binding.Session(ctx, false, [undefined, undefined, undefined]);
  assert.is(codeOf(() => s.cycle('text' as unknown as Buffer)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => s.cycle(Buffer.alloc(4), 5)), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => s.write(42 as unknown as Buffer)), 'ERR_TLS_STATE'); // state is checked first
});

Misuse('a key that does not match the certificate is refused with the reason', () => {
  const ctx = new binding.Context(TLS_server_method);
  ctx.useCertificateChain(pki().server.cert, false, 1);
  let err: (Error & { code: string; reason: string }) | undefined;
  try {
    ctx.usePrivateKey(pki().client.key, false, 1);
  } catch (e) {
    err = e as typeof err;
  }
  assert.is(err?.code, 'ERR_TLS_CONFIG');
  assert.match(err!.reason, /values mismatch|mismatch/);
});

Misuse('wrong order and wrong role throw StateError', () => {
  const client = new binding.Context(TLS_client_method);
  const server = new binding.Context(TLS_server_method);
  assert.is(codeOf(() => new binding.Session(client, true, [undefined, undefined, undefined])), 'ERR_TLS_STATE');
  assert.is(codeOf(() => new binding.Session(server, false, [undefined, undefined, undefined])), 'ERR_TLS_STATE');
  const s = new binding.Session(client, false, [undefined, undefined, undefined]);
  assert.is(codeOf(() => s.write('too early')), 'ERR_TLS_STATE');
  assert.is(s.shutdown(), 0); // nothing to close before the handshake
});

Misuse('use after free throws ClosedError; freeing twice throws', () => {
  const ctx = new binding.Context(TLS_method);
  const s = new binding.Session(ctx, false, [undefined, undefined, undefined]);
  ctx.free();
  assert.ok(ctx.isFreed());
  // A session outlives its freed context: SSL_new holds its own reference.
  assert.ok((s.cycle() & CycleFlag.EncOut) !== 0, 'client hello still produced');
  assert.is(codeOf(() => ctx.setVerify(0)), 'ERR_TLS_CLOSED');
  assert.is(codeOf(() => ctx.free()), 'ERR_TLS_CLOSED');
  assert.is(codeOf(() => new binding.Session(ctx, false, [undefined, undefined, undefined])), 'ERR_TLS_CLOSED');
  s.free();
  for (const call of [() => s.cycle(), () => s.write('x'), () => s.shutdown(), () => s.info(), () => s.peerCertificate(), () => s.free(), () => s.pointer()])
    assert.is(codeOf(call), 'ERR_TLS_CLOSED');
});

Misuse('certificate generation validates its options', () => {
  assert.is(codeOf(() => binding.generateCertificate({ keyType: 'dsa' as 'ec' })), 'ERR_TLS_INVALID_ARGUMENT');
  assert.is(codeOf(() => binding.generateCertificate({ altNames: ['a,b'] })), 'ERR_TLS_INVALID_ARGUMENT');
  const rsa = binding.generateCertificate({ keyType: 'rsa', rsaBits: 2048, altNames: ['127.0.0.1'] });
  const summary = binding.parseCertificate(rsa.cert);
  assert.equal(summary.subjectAltNames, ['IP:127.0.0.1']);
  assert.match(rsa.key, /BEGIN PRIVATE KEY/);
});

Native.run();
Misuse.run();
