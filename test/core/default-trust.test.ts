// A client with no CA of its own trusts the system store, which OpenSSL
// locates through SSL_CERT_FILE when it is set: point it at the test CA in a
// child process and the server must verify; leave it unset and it must not.
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { createTlsServer } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { pki } from '../helpers/pki.js';

const child = fileURLToPath(new URL('./fixtures/connect-default-trust.ts', import.meta.url));

const Trust = suite('default trust store');

Trust('the default store (SSL_CERT_FILE) is what a client trusts when given no CA', async () => {
  const server = createTlsServer({ cert: pki().server.cert, key: pki().server.key }, () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const run = (env: NodeJS.ProcessEnv) =>
    // Async, so this process keeps serving while the child connects.
    new Promise<{ status: number | null; out: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', child, String(port)], { env, timeout: 20_000 }, (err, stdout) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }),
      );
    });
  try {
    const trusted = await run({ ...process.env, SSL_CERT_FILE: pki().file('ca', 'crt'), SSL_CERT_DIR: '/nonexistent' });
    assert.is(trusted.status, 0, trusted.out);
    assert.match(trusted.out, 'verified: ok');
    const untrusted = await run({ ...process.env, SSL_CERT_FILE: '/nonexistent', SSL_CERT_DIR: '/nonexistent' });
    assert.is.not(untrusted.status, 0);
    assert.match(untrusted.out, 'ERR_TLS_CERT_VERIFY');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

Trust.run();
