// Plaintext that arrives in the same TCP read as a fatal error (application
// data, then a forged record or an alert) is the peer's data: the engine
// delivers it to ondata, then reports the error. The peer is a raw TCP socket
// driven by a native session, so the test chooses the bytes of that one write.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

import { createTlsServer, type SecureConnection } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';
import { rawTlsClient } from '../hostile/lib/raw-client.js';
import { clientContext } from '../hostile/lib/memory.js';

const FORGED = [
  // An application-data record the session never sealed: bad record MAC.
  { name: 'a forged record', bytes: () => Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), randomBytes(32)]) },
  // A fatal handshake_failure alert in the clear, where records are encrypted.
  { name: 'a plaintext fatal alert', bytes: () => Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]) },
];

const Order = suite('data, then a fatal error, in one TCP write');

for (const version of [0x0303, 0x0304]) {
  for (const forged of FORGED) {
    Order(`TLS 1.${version - 0x0301}: the data arrives, then the error (${forged.name})`, async () => {
      const events: string[] = [];
      let done!: () => void;
      const closed = new Promise<void>((r) => (done = r));
      const server = createTlsServer({ cert: pki().server.cert, key: pki().server.key }, (conn: SecureConnection) => {
        conn.ondata = (chunk) => events.push(`data:${chunk.toString()}`);
        conn.onerror = (err) => events.push(`error:${err.code}`);
        conn.onclose = () => done();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const client = await rawTlsClient((server.address() as AddressInfo).port, clientContext(version));
        client.socket.write(Buffer.concat([client.seal('hello'), forged.bytes()]));
        await withTimeout(closed, 5000, 'server connection closed');
        assert.equal(events.length, 2, events.join(', '));
        assert.is(events[0], 'data:hello');
        assert.match(events[1]!, /^error:ERR_TLS_(PROTOCOL|HANDSHAKE)$/);
        client.socket.destroy();
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  }
}

Order.run();
