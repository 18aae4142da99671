// A TLS server in its own process for the shared-ticket-key tests: started
// with the certificate, key and ticket keys (hex) in the environment, it
// prints its port, then answers each connection `resumed` or `full` and ends.
// RXTLS_TRANSPORT: 'native' (default) or 'js'.
import type { AddressInfo } from 'node:net';

import { createTlsServer, type SecureConnection, type Transport } from '@rxtls/core';

const server = createTlsServer(
  {
    transport: (process.env.RXTLS_TRANSPORT || 'native') as Transport,
    cert: process.env.RXTLS_CERT!,
    key: process.env.RXTLS_KEY!,
    ...(process.env.RXTLS_TICKET_KEYS ? { ticketKeys: Buffer.from(process.env.RXTLS_TICKET_KEYS, 'hex') } : {}),
  },
  (engine: SecureConnection) => {
    engine.onsecure = () => {
      engine.write(engine.info().resumed ? 'resumed\n' : 'full\n');
      engine.end();
    };
    engine.onerror = () => {};
  },
);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
// The test closes stdin to stop the server.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
