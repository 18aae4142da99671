// A TLS-terminating proxy: accept TLS, connect TLS upstream, pipe both ways.
//   node --import tsx examples/tls-proxy.ts
// Run directly, it starts its own upstream (an echo server), the proxy in
// front of it, and a client that sends 8 MiB through both and checks the
// SHA-256 of what comes back; then it stops everything and exits.
//
// Backpressure holds end to end: in `read(client).pipe(write(up))` a slow
// upstream pauses the client's socket, and in `read(up).pipe(write(client))`
// a slow client pauses the upstream's, so the proxy buffers a few socket
// buffers per connection whatever the peers do.
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import { createCertificateAuthority, issueCertificate } from '@rxtls/core';
import { connect, listen, read, write, writeFrom, type ConnectOptions, type ListenOptions, type TlsConnection } from '@rxtls/rx';
import { EMPTY, catchError, finalize, firstValueFrom, lastValueFrom, merge, mergeMap, reduce, type Observable } from 'rxjs';

export interface ProxyOptions {
  /** Where the proxy listens, and the certificate it shows its clients. */
  front: ListenOptions;
  /** Where it connects to for each client, and how it verifies that server. */
  upstream: ConnectOptions;
  /** A connection pair failed (upstream unreachable, truncation, …): the proxy goes on. */
  onPairError?: (error: unknown, client: TlsConnection) => void;
}

/**
 * The proxy as one Observable: subscribe to run it, unsubscribe to stop it
 * (and drop every proxied connection). Emits the bytes each chunk carried,
 * both directions.
 */
export function tlsProxy({ front, upstream, onPairError }: ProxyOptions): Observable<number> {
  return listen(front).pipe(
    mergeMap((client) => {
      let piped = false;
      return connect(upstream).pipe(
        mergeMap((up) => {
          piped = true;
          return merge(read(client).pipe(write(up)), read(up).pipe(write(client)));
        }),
        catchError((err) => {
          onPairError?.(err, client);
          return EMPTY;
        }),
        // Upstream never came (failed, or the proxy stopped meanwhile): the
        // client connection is ours to close. Once piped, read/write own it.
        finalize(() => piped || client.destroy()),
      );
    }),
  );
}

async function main(): Promise<void> {
  const ca = createCertificateAuthority({ commonName: 'rxtls example CA' });
  const upstreamCert = issueCertificate(ca, { commonName: 'localhost' });
  const proxyCert = issueCertificate(ca, { commonName: 'localhost' });

  // The upstream: an echo server.
  let upstreamReady!: (a: AddressInfo) => void;
  const upstreamAddress = new Promise<AddressInfo>((r) => (upstreamReady = r));
  const upstreamServer = listen({ ...upstreamCert, onListening: upstreamReady })
    .pipe(mergeMap((c) => read(c).pipe(write(c))))
    .subscribe({ error: (err) => console.error('upstream failed:', err) });
  const upstreamPort = (await upstreamAddress).port;

  let proxyReady!: (a: AddressInfo) => void;
  const proxyAddress = new Promise<AddressInfo>((r) => (proxyReady = r));
  const proxy = tlsProxy({
    front: { ...proxyCert, onListening: proxyReady },
    upstream: { host: 'localhost', port: upstreamPort, ca: ca.cert },
    onPairError: (err) => console.error('pair failed:', err),
  }).subscribe({ error: (err) => console.error('proxy failed:', err) });
  const proxyPort = (await proxyAddress).port;
  console.log(`upstream echo on 127.0.0.1:${upstreamPort}, proxy on 127.0.0.1:${proxyPort}`);

  const payload = randomBytes(8 * 1024 * 1024);
  const conn = await firstValueFrom(connect({ host: 'localhost', port: proxyPort, ca: ca.cert }));
  const slices = Array.from({ length: payload.length / 65536 }, (_, i) => payload.subarray(i * 65536, (i + 1) * 65536));
  const [sent, hash] = await Promise.all([
    lastValueFrom(writeFrom(conn, slices).pipe(reduce((n, b) => n + b, 0))),
    lastValueFrom(read(conn).pipe(reduce((h, chunk) => h.update(chunk), createHash('sha256')))),
  ]);
  const ok = hash.digest('hex') === createHash('sha256').update(payload).digest('hex');
  console.log(`sent ${sent} bytes through the proxy, echo ${ok ? 'matches' : 'DIFFERS'}`);
  proxy.unsubscribe();
  upstreamServer.unsubscribe();
  if (!ok) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
