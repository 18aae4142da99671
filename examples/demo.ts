// The first thing to run: `pnpm start`.
// A TLS server and a client on 127.0.0.1, a certificate made on the spot,
// one exchange, then a timed transfer. Exits by itself. Both run on the
// native transport (the default): the sockets live in the addon.
import type { AddressInfo } from 'node:net';

import {
  connectTls,
  createCertificateAuthority,
  createTlsServer,
  issueCertificate,
  type SecureConnection,
} from '@rxtls/core';

const TRANSFER_BYTES = 64 * 1024 * 1024;

const ca = createCertificateAuthority({ commonName: 'rxtls demo CA' });
const leaf = issueCertificate(ca, { commonName: 'localhost' });

// The server echoes a greeting, then counts what the client streams.
const server = createTlsServer({ cert: leaf.cert, key: leaf.key }, (engine) => {
  let greeted = false;
  let received = 0;
  engine.ondata = (chunk) => {
    if (!greeted) {
      greeted = true;
      engine.write(`hello back, you speak ${engine.info().protocol}`);
      return;
    }
    received += chunk.length;
    if (received === TRANSFER_BYTES) engine.write('done');
  };
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`server listening on 127.0.0.1:${port}`);
  // The client trusts only the demo CA and checks the name "localhost".
  const client = connectTls({ host: 'localhost', port, ca: ca.cert });
  client.onerror = (err) => {
    console.error('client error:', err.code, err.message);
    process.exitCode = 1;
    server.close();
  };
  client.onsecure = () => {
    const info = client.info();
    const peer = client.peerCertificate();
    console.log(`handshake: ${info.protocol}, ${info.cipher}, group ${info.group}`);
    console.log(`server certificate: ${peer?.subjectName} issued by ${peer?.issuerName}`);
    console.log(`  names ${peer?.subjectAltNames.join(', ')}; valid to ${peer?.validTo}`);
    console.log(`  sha256 ${peer?.fingerprint256}`);
    console.log(`verify result: ${info.verifyMessage}`);
    client.write('hello');
  };
  let phase: 'greeting' | 'transfer' = 'greeting';
  let started = 0n;
  client.ondata = (chunk) => {
    const text = chunk.toString();
    if (phase === 'greeting') {
      console.log(`server says: ${text}`);
      phase = 'transfer';
      started = process.hrtime.bigint();
      void stream(client);
    } else if (text.includes('done')) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const mib = TRANSFER_BYTES / (1024 * 1024);
      console.log(`sent ${mib} MiB in ${seconds.toFixed(2)} s: ${(mib / seconds).toFixed(0)} MiB/s`);
      client.end();
    }
  };
  client.onclose = () => server.close(() => console.log('closed cleanly'));
});

/** Streams TRANSFER_BYTES in 64 KiB writes, pausing when the buffer is full until `ondrain`. */
async function stream(connection: SecureConnection): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < TRANSFER_BYTES; sent += chunk.length) {
    if (!connection.write(chunk)) await new Promise<void>((r) => (connection.ondrain = () => r()));
  }
}
