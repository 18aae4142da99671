// A pipeline that transforms the stream between read and write: the server
// frames the bytes into lines and answers each line upper-cased, numbered.
//   node --import tsx examples/rx-transform.ts
// A client sends a few lines split at awkward places (a line across two
// chunks, a UTF-8 character across two chunks), prints the answers, and the
// example exits.
import type { AddressInfo } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

import { createCertificateAuthority, issueCertificate } from '@rxtls/core';
import { connect, listen, read, write, type ListenOptions } from '@rxtls/rx';
import { Observable, concatMap, firstValueFrom, from, lastValueFrom, map, mergeMap, reduce, type OperatorFunction } from 'rxjs';

/** Frames a byte stream into UTF-8 lines (without the `\n`); a last unterminated line is emitted at the end. */
function lines(): OperatorFunction<Buffer, string> {
  return (source) =>
    new Observable<string>((subscriber) => {
      const decoder = new StringDecoder('utf8');
      let rest = '';
      return source.subscribe({
        next: (chunk) => {
          const parts = (rest + decoder.write(chunk)).split('\n');
          rest = parts.pop()!;
          for (const line of parts) subscriber.next(line);
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          rest += decoder.end();
          if (rest.length > 0) subscriber.next(rest);
          subscriber.complete();
        },
      });
    });
}

const ca = createCertificateAuthority({ commonName: 'rxtls example CA' });
const { cert, key } = issueCertificate(ca, { commonName: 'localhost' });
let onListening!: (address: AddressInfo) => void;
const listening = new Promise<AddressInfo>((resolve) => (onListening = resolve));
const opts: ListenOptions = { port: 0, cert, key, onListening };

// The server: bytes -> lines -> upper-cased, numbered lines -> bytes.
const server = listen(opts)
  .pipe(
    mergeMap((c) =>
      read(c).pipe(
        lines(),
        map((line, i) => `${i + 1}: ${line.toUpperCase()}\n`),
        write(c),
      ),
    ),
  )
  .subscribe({ error: (err) => console.error('server failed:', err) });

const { port } = await listening;
const conn = await firstValueFrom(connect({ port, ca: ca.cert }));
const euro = Buffer.from('€'); // three bytes, sent split across two chunks
const chunks = [Buffer.from('hello, '), Buffer.from('world\nrxtls pipes '), Buffer.concat([Buffer.from('cost 0 '), euro.subarray(0, 1)]), Buffer.concat([euro.subarray(1), Buffer.from('\nbye')])];

const [, answer] = await Promise.all([
  // concatMap spaces the chunks out so they really arrive apart.
  lastValueFrom(from(chunks).pipe(concatMap((c) => new Promise<Buffer>((r) => setTimeout(() => r(c), 20))), write(conn))),
  lastValueFrom(read(conn).pipe(reduce((text, chunk) => text + chunk.toString('utf8'), ''))),
]);
process.stdout.write(answer);
server.unsubscribe();
const expected = '1: HELLO, WORLD\n2: RXTLS PIPES COST 0 €\n3: BYE\n';
if (answer !== expected) {
  console.error('unexpected answer');
  process.exitCode = 1;
}
