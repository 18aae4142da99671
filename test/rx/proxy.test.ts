// The TLS-terminating proxy of examples/tls-proxy.ts under load: 1,000
// clients at once, each sending its own random payload through the proxy to
// an echo upstream and checking every byte that comes back.
import { randomBytes } from 'node:crypto';

import { connect, read, write } from '@rxtls/rx';
import { lastValueFrom, merge, mergeMap, of, range, reduce, map, ignoreElements } from 'rxjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { tlsProxy } from '../../examples/tls-proxy.ts';
import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { serve } from './fixtures/serve.js';

const CLIENTS = 1000;
const PAYLOAD = 4096;

test(`${CLIENTS} concurrent connections through the proxy, each echo verified`, async () => {
  const { ca, server } = pki();
  const upstream = await serve({ ...server, backlog: 2048 }, (c) => read(c).pipe(write(c)));
  const pairErrors: unknown[] = [];
  let proxyPort = 0;
  let proxySub: { unsubscribe(): void } | undefined;
  const proxyListening = new Promise<void>((resolve) => {
    proxySub = tlsProxy({
      front: { ...server, backlog: 2048, onListening: (a) => ((proxyPort = a.port), resolve()) },
      upstream: { host: 'localhost', port: upstream.port, ca: ca.cert },
      onPairError: (err) => pairErrors.push(err),
    }).subscribe({ error: (err) => pairErrors.push(err) });
  });
  try {
    await proxyListening;
    const started = performance.now();
    // One client: send its payload (then close_notify), read the echo until
    // the proxy's close_notify, compare.
    // One options object for all: connect() makes its context once.
    const clientOptions = { host: 'localhost', port: proxyPort, ca: ca.cert };
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
      50_000,
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

test.run();
