// Child process of load.test.ts: an rxtls echo server on the native transport
// (the default) that reports its connection count and memory. Protocol: JSON lines on stdout; commands on
// stdin: `stats` (GC first, then report), `exit`.
//   node --expose-gc --import tsx load-server.ts CERT_FILE KEY_FILE
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

import { createTlsServer, type TlsError } from '@rxtls/core';
import { binding } from '@rxtls/native';

const [certFile, keyFile] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
let live = 0;
let secure = 0;
let errors = 0;
const samples: string[] = [];

// Native: the handler sees a connection once secure; a failed handshake is a 'tlsClientError'.
const server = createTlsServer({ cert: readFileSync(certFile!), key: readFileSync(keyFile!) }, (engine) => {
  live++;
  engine.onsecure = () => secure++;
  engine.ondata = (chunk) => engine.write(chunk);
  engine.onclose = (err) => {
    live--;
    if (err) {
      errors++;
      if (samples.length < 5) samples.push(`${err.code}: ${err.message}`);
    }
  };
});
server.on('tlsClientError', (err: TlsError) => {
  errors++;
  if (samples.length < 5) samples.push(`handshake: ${err.code}: ${err.message}`);
});
server.on('error', (err: Error) => {
  console.log(JSON.stringify({ fatal: String(err) }));
  process.exit(1);
});
// A deep accept queue: thousands of clients connect at once.
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  console.log(JSON.stringify({ listening: (server.address() as AddressInfo).port }));
});

createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line === 'stats') {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    const m = process.memoryUsage();
    console.log(JSON.stringify({ stats: { live, secure, errors, samples, rss: m.rss, heapUsed: m.heapUsed, external: m.external, native: binding.debugCounters() } }));
  } else if (line === 'exit') {
    server.close();
    process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
