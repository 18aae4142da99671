// temp: heap per idle connection, rx vs native server, in-process; clients in a child.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createSelfSignedCertificate } from '@rxtls/core';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const which = process.argv[2] ?? 'rx';
const N = 2000;
const { cert, key } = createSelfSignedCertificate();
import { TLSServerContext } from '@rxtls/core';
import { listen, read, write } from '@rxtls/rx';
import { catchError, EMPTY, finalize, mergeMap } from 'rxjs';
let srv: { port: number; close(): Promise<void> };
if (which === 'native') { const mod = await import('./servers/native.ts'); srv = await mod.start({ protocol: 'echo', cert, key }); }
else {
  const context = new TLSServerContext(); context.load_certs(cert, key);
  let onPort: (p: number) => void = () => {};
  const ready = new Promise<number>((r) => (onPort = r));
  const keep: unknown[] = [];
  const src = listen({ context, transport: 'native', host: '127.0.0.1', port: 0, backlog: 4096, onListening: (a) => onPort(a.port) });
  const sub = which === 'a' ? src.subscribe((c) => keep.push(c))
    : which === 'b' ? src.pipe(mergeMap((conn) => read(conn))).subscribe()
    : which === 'c' ? src.pipe(mergeMap((conn) => read(conn).pipe(write(conn)))).subscribe()
    : src.pipe(mergeMap((conn) => read(conn).pipe(write(conn), catchError(() => EMPTY), finalize(() => {})))).subscribe();
  srv = { port: await ready, close: async () => sub.unsubscribe() };
}
const mem = () => { gc(); gc(); return process.memoryUsage(); };
const m0 = mem();
const client = `
const tls = require('node:tls');
let n = 0; const socks = [];
function one() { const s = tls.connect({ port: ${srv.port}, host: '127.0.0.1', rejectUnauthorized: false }, () => { n++; if (n === ${N}) console.log('up'); else one(); }); s.on('error', () => {}); socks.push(s); }
one();
process.stdin.on('data', () => process.exit(0));
`;
writeFileSync('/tmp/rxm/client.cjs', client);
const child = spawn(process.execPath, ['/tmp/rxm/client.cjs'], { stdio: ['pipe', 'pipe', 'inherit'] });
await new Promise<void>((r) => child.stdout.on('data', (d) => { if (String(d).includes('up')) r(); }));
await new Promise((r) => setTimeout(r, 500));
const m1 = mem();
console.log(which, 'per conn: heapUsed', Math.round((m1.heapUsed - m0.heapUsed) / N), 'rss', Math.round((m1.rss - m0.rss) / N), 'external', Math.round((m1.external - m0.external) / N));
child.stdin.write('x');
await srv.close();
process.exit(0);
