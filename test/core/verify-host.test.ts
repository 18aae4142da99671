// Host names given for SNI and certificate verification are read as node:tls
// reads them: a NUL byte or a leading dot is refused (OpenSSL would check
// "good.com\0.evil.com" as good.com, and read ".example.com" as "any
// subdomain"), one trailing dot is stripped. Against a node:tls server whose
// certificate (made here) names *.example.com and good.com.
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

import { connectTls, createCertificateAuthority, issueCertificate, SSL, TLSClientContext, type SecureConnection } from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { rejectsWith } from '../helpers/assert.js';
import { whenSecure } from '../helpers/engine.js';
import { withTimeout } from '../helpers/net.js';

const ca = createCertificateAuthority();
const leaf = issueCertificate(ca, { commonName: 'wildcard test', altNames: ['*.example.com', 'good.com'] });

interface Peer {
  port: number;
  nextServername(): Promise<string | false>;
  close(): Promise<void>;
}

async function startPeer(): Promise<Peer> {
  const server = tls.createServer({ cert: leaf.cert, key: leaf.key }, (s) => s.end('hello'));
  const nextServername = () =>
    new Promise<string | false>((resolve) => server.once('secureConnection', (s: tls.TLSSocket) => resolve(s.servername as string | false)));
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    nextServername,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function clientCtx(): TLSClientContext {
  const ctx = new TLSClientContext();
  ctx.set_verify_locations(ca.cert);
  return ctx;
}

/** Connects to 127.0.0.1 checking the certificate against `verifyHost`. */
function dial(port: number, verifyHost: string, servername?: string): SecureConnection {
  return connectTls({ host: '127.0.0.1', port, context: clientCtx(), verifyHost, ...(servername !== undefined ? { servername } : {}) });
}

let peer: Peer;
const Host = suite('host names for verification and SNI');
Host.before(async () => {
  peer = await startPeer();
});
Host.after(async () => {
  await peer.close();
});

Host('control: the certificate verifies for its names and fails for another', async () => {
  const ok = await withTimeout(whenSecure(dial(peer.port, 'a.example.com')), 5000, 'a.example.com');
  ok.destroy();
  const good = await withTimeout(whenSecure(dial(peer.port, 'good.com')), 5000, 'good.com');
  good.destroy();
  await rejectsWith(withTimeout(whenSecure(dial(peer.port, 'evil.com')), 5000, 'evil.com'), 'ERR_TLS_CERT_VERIFY');
});

Host('a NUL byte in verifyHost is refused: "good.com\\0.evil.com" is not good.com', () => {
  // Before: OpenSSL read the C string up to the NUL and accepted the server.
  let code: string | undefined;
  try {
    dial(peer.port, 'good.com\u0000.evil.com').destroy();
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  assert.is(code, 'ERR_TLS_INVALID_ARGUMENT');
});

Host('a NUL byte in servername is refused', () => {
  let code: string | undefined;
  try {
    dial(peer.port, 'good.com', 'good.com\u0000.evil.com').destroy();
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  assert.is(code, 'ERR_TLS_INVALID_ARGUMENT');
});

Host('a leading dot is refused: ".example.com" does not match *.example.com', () => {
  for (const [verifyHost, servername] of [['.example.com', undefined], ['a.example.com', '.example.com']] as const) {
    let code: string | undefined;
    try {
      dial(peer.port, verifyHost, servername).destroy();
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    assert.is(code, 'ERR_TLS_INVALID_ARGUMENT', `${verifyHost} / ${servername}`);
  }
});

Host('one trailing dot is stripped: "a.example.com." verifies against *.example.com, SNI without the dot', async () => {
  const sni = peer.nextServername();
  const engine = await withTimeout(whenSecure(dial(peer.port, 'a.example.com.', 'a.example.com.')), 5000, 'a.example.com.');
  assert.is(engine.info().verifyResult, 0);
  assert.is(await withTimeout(sni, 5000, 'server side'), 'a.example.com');
  engine.destroy();
  // Only one: two dots are not the absolute form of a name.
  await rejectsWith(withTimeout(whenSecure(dial(peer.port, 'a.example.com..')), 5000, 'two dots'), 'ERR_TLS_CERT_VERIFY');
});

Host('connectTls applies the same reading to its host (the default verifyHost and SNI)', async () => {
  let code: string | undefined;
  try {
    connectTls({ host: 'good.com\u0000.evil.com', port: peer.port, context: clientCtx() }).destroy();
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  assert.is(code, 'ERR_TLS_INVALID_ARGUMENT');
});

Host('the native session refuses the same names directly', () => {
  const ctx = new nativeBinding.Context(nativeBinding.methods.TLS_client_method);
  for (const name of ['good.com\u0000.evil.com', '.example.com', '.']) {
    for (const key of ['verifyHost', 'servername']) {
      let code: string | undefined;
      try {
        new nativeBinding.Session(ctx, false, [undefined, undefined, undefined], { [key]: name }).free();
      } catch (err) {
        code = (err as { code?: string }).code;
      }
      assert.is(code, 'ERR_TLS_INVALID_ARGUMENT', `${key}: ${JSON.stringify(name)}`);
    }
  }
  new nativeBinding.Session(ctx, false, [undefined, undefined, undefined], { verifyHost: 'a.example.com.', servername: 'a.example.com.' }).free();
  ctx.free();
});

Host('the documented SSL.set_host refuses the same names', () => {
  const ctx = clientCtx();
  for (const name of ['good.com\u0000.evil.com', '.example.com']) {
    const ssl = new SSL(ctx);
    let code: string | undefined;
    try {
      ssl.set_host(name);
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    ssl.free();
    assert.is(code, 'ERR_TLS_INVALID_ARGUMENT', JSON.stringify(name));
  }
  const ssl = new SSL(ctx);
  ssl.set_host('a.example.com.');
  ssl.free();
});

Host.run();
