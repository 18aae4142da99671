// An echo server in one pipe(), and a client that checks it.
//   node --import tsx examples/rx-echo.ts
// The server echoes every connection until the client's close_notify; the
// client sends 4 MiB of random bytes, compares the SHA-256 of what came
// back, and the example stops the server and exits.
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

import { createCertificateAuthority, issueCertificate } from '@rxtls/core';
import { connect, listen, read, write, writeFrom, type ListenOptions } from '@rxtls/rx';
import { firstValueFrom, lastValueFrom, mergeMap, reduce } from 'rxjs';

const ca = createCertificateAuthority({ commonName: 'rxtls example CA' });
const { cert, key } = issueCertificate(ca, { commonName: 'localhost' });

let onListening!: (address: AddressInfo) => void;
const listening = new Promise<AddressInfo>((resolve) => (onListening = resolve));
const opts: ListenOptions = { host: '127.0.0.1', port: 0, cert, key, onListening };

// The whole echo server:
const server = listen(opts)
  .pipe(mergeMap((c) => read(c).pipe(write(c))))
  .subscribe({ error: (err) => console.error('server failed:', err) });

const { port } = await listening;
console.log(`echo server on 127.0.0.1:${port}`);

const payload = randomBytes(4 * 1024 * 1024);
const conn = await firstValueFrom(connect({ host: 'localhost', port, ca: ca.cert }));
console.log(`connected: ${conn.protocol} ${conn.cipher}, server is ${conn.peerCertificate?.subjectName}`);

// Send in 64 KiB slices (then close_notify) while reading the echo back.
// writeFrom pulls the next slice only while the socket has room.
const slices = Array.from({ length: payload.length / 65536 }, (_, i) => payload.subarray(i * 65536, (i + 1) * 65536));
const [bytesSent, digest] = await Promise.all([
  lastValueFrom(writeFrom(conn, slices).pipe(reduce((n, bytes) => n + bytes, 0))),
  lastValueFrom(read(conn).pipe(reduce((hash, chunk) => hash.update(chunk), createHash('sha256')))),
]);

const ok = digest.digest('hex') === createHash('sha256').update(payload).digest('hex');
console.log(`sent ${bytesSent} bytes, echo ${ok ? 'matches' : 'DIFFERS'}`);
server.unsubscribe();
if (!ok) process.exitCode = 1;
