// The TLS-terminating proxy of examples/tls-proxy.ts under load: 1,000
// clients at once, each sending its own random payload through the proxy to
// an echo upstream and checking every byte that comes back.
import { randomBytes } from 'node:crypto';

import { ErrorCode, type TlsError } from '@rxtls/core';
import { connect, read, write } from '@rxtls/rx';
import { firstValueFrom, ignoreElements, lastValueFrom, map, merge, mergeMap, of, range, reduce } from 'rxjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { tlsProxy } from '../../examples/tls-proxy.ts';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { serve } from './fixtures/serve.js';

const CLIENTS = 1000;
// 1,000 handshakes at once queue for the CPU (two busy cores shared with
// other tests): each side gets longer than the default 10 s to finish.
const HANDSHAKE_TIMEOUT = 45_000;
const PAYLOAD = 4096;

test(`${CLIENTS} concurrent connections through the proxy, each echo verified`, async () => {
  const { ca, server } = pki();
  const upstream = await serve({ ...server, backlog: 2048, handshakeTimeout: HANDSHAKE_TIMEOUT }, (c) => read(c).pipe(write(c)));
  const pairErrors: unknown[] = [];
  let proxyPort = 0;
  let proxySub: { unsubscribe(): void } | undefined;
  const proxyListening = new Promise<void>((resolve) => {
    proxySub = tlsProxy({
      front: { ...server, backlog: 2048, handshakeTimeout: HANDSHAKE_TIMEOUT, onListening: (a) => ((proxyPort = a.port), resolve()) },
      // An IP address (in the certificate too) spares 2,000 DNS lookups.
      upstream: { host: '127.0.0.1', port: upstream.port, ca: ca.cert, handshakeTimeout: HANDSHAKE_TIMEOUT },
      onPairError: (err) => pairErrors.push(err),
    }).subscribe({ error: (err) => pairErrors.push(err) });
  });
  try {
    await proxyListening;
    const started = performance.now();
    // One client: send its payload (then close_notify), read the echo until
    // the proxy's close_notify, compare.
    // One options object for all: connect() makes its context once.
    const clientOptions = { host: '127.0.0.1', port: proxyPort, ca: ca.cert, handshakeTimeout: HANDSHAKE_TIMEOUT };
    const client = (i: number) => {
      const payload = randomBytes(PAYLOAD);
      return connect(clientOptions).pipe(
        mergeMap((c) =>
          merge(
            of(payload).pipe(write(c), ignoreElements()),
            read(c).pipe(reduce((chunks: Buffer[], chunk) => (chunks.push(chunk), chunks), [])),
          ),
        ),
        map((chunks) => Buffer.concat(chunks).equals(payload) || i),
      );
    };
    const failed = await withTimeout(
      lastValueFrom(
        range(0, CLIENTS).pipe(
          mergeMap(client),
          reduce((bad: number[], ok) => (ok === true ? bad : [...bad, ok as number]), []),
        ),
      ),
      55_000,
      `${CLIENTS} proxied echoes`,
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(`  ${CLIENTS} proxied connections in ${seconds.toFixed(1)} s`);
    assert.equal(failed, [], 'clients whose echo differed');
    assert.equal(pairErrors, []);
    assert.equal(upstream.errors, []);
  } finally {
    proxySub?.unsubscribe();
    upstream.stop();
  }
});

test('an unreachable upstream fails that client only; the proxy goes on', async () => {
  const { ca, server } = pki();
  const gone = await serve(server, (c) => read(c).pipe(write(c)));
  const deadPort = gone.port;
  gone.stop();
  const pairErrors: TlsError[] = [];
  let proxyPort = 0;
  let proxySub: { unsubscribe(): void } | undefined;
  await new Promise<void>((resolve) => {
    proxySub = tlsProxy({
      front: { ...server, onListening: (a) => ((proxyPort = a.port), resolve()) },
      upstream: { host: '127.0.0.1', port: deadPort, ca: ca.cert },
      onPairError: (err) => pairErrors.push(err as TlsError),
    }).subscribe({ error: (err) => pairErrors.push(err) });
  });
  try {
    for (let i = 0; i < 3; i++) {
      const c = await firstValueFrom(connect({ host: '127.0.0.1', port: proxyPort, ca: ca.cert }));
      const outcome = await lastValueFrom(read(c)).then(
        () => 'clean end',
        (err: TlsError) => err.code,
      );
      // The proxy drops the client without close_notify: never a clean end.
      assert.ok(outcome === ErrorCode.Truncated || outcome === ErrorCode.Socket, outcome);
    }
    assert.is(pairErrors.length, 3);
    assert.ok(pairErrors.every((e) => e.code === ErrorCode.Socket));
  } finally {
    proxySub?.unsubscribe();
  }
});

test.run();
