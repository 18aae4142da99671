// Child process of load.test.ts: opens N TLS connections to the load server
// (the native transport, the default), each exchanging one message, and
// keeps them all open until told to close.
// JSON lines on stdout; commands on stdin: `close`, `exit`.
//   node --import tsx load-client.ts PORT N CA_FILE
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { connectTls, TLSClientContext, type SecureConnection } from '@rxtls/core';

const [portArg, countArg, caFile] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
// Handshakes in flight at once: enough to keep both cores busy, few enough
// that no handshake waits near its timeout.
const IN_FLIGHT = 128;
// Several loopback source addresses, so ephemeral ports never run short.
const SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];

const context = new TLSClientContext();
context.set_verify_locations(readFileSync(caFile!));
const engines: SecureConnection[] = [];
let errors = 0;
const samples: string[] = [];
const fail = (what: string) => {
  errors++;
  if (samples.length < 5) samples.push(what);
};

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const message = `hello from connection ${i}`;
    const engine = connectTls({ host: 'localhost', port, context, localAddress: SOURCES[i % SOURCES.length]! });
    let got = '';
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    engine.onsecure = () => engine.write(message);
    engine.ondata = (chunk) => {
      got += chunk.toString();
      if (got === message) {
        engines.push(engine);
        finish();
      } else if (got.length >= message.length) {
        fail(`connection ${i}: echo differs`);
        finish();
      }
    };
    engine.onclose = (err) => {
      if (!done) fail(`connection ${i} closed before its exchange: ${err ? `${err.code}: ${err.message}` : 'no error'}`);
      finish();
    };
  });
}

const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async () => {
    while (next < count) await open(next++);
  }),
);
console.log(JSON.stringify({ open: engines.length, errors, samples, seconds: (Date.now() - started) / 1000 }));

createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line === 'close') {
    let clean = 0;
    await Promise.all(
      engines.map(
        (engine) =>
          new Promise<void>((resolve) => {
            let ended = false;
            engine.onend = () => (ended = true);
            engine.onclose = (err) => {
              if (err) fail(`close: ${err.code}: ${err.message}`);
              else if (ended) clean++;
              resolve();
            };
            engine.end();
          }),
      ),
    );
    console.log(JSON.stringify({ closed: engines.length, clean, errors, samples }));
  } else if (line === 'exit') {
    process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
