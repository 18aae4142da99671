// An echo server and client written the way the Blade `ssl` page's users
// write them: a TLSSocket over a Socket, a context that loads certificate
// files, bind/listen/accept, send/receive, close. Certificates are made in a
// temporary directory at start and removed at exit.
//
//   node --import tsx examples/blade-echo.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ClosedError,
  Socket,
  TLSClientContext,
  TLSServerContext,
  TLSSocket,
  createCertificateAuthority,
  issueCertificate,
} from '@rxtls/core';

// --- certificates: a CA, and a server certificate for localhost it signed ---
const dir = mkdtempSync(join(tmpdir(), 'blade-echo-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const ca = createCertificateAuthority();
const leaf = issueCertificate(ca, { commonName: 'localhost' });
const ca_file = join(dir, 'ca.pem');
const cert_file = join(dir, 'server.crt');
const key_file = join(dir, 'server.key');
writeFileSync(ca_file, ca.cert);
writeFileSync(cert_file, leaf.cert);
writeFileSync(key_file, leaf.key, { mode: 0o600 });

// --- the server ---
const server_ctx = new TLSServerContext();
server_ctx.load_certs(cert_file, key_file);

const server = new TLSSocket(new Socket(), server_ctx);
await server.bind(0, '127.0.0.1'); // 0: any free port; server.port holds it
await server.listen();
console.log(`server: ${server} on port ${server.port}`);

async function handle(client: TLSSocket) {
  console.log(`server: accepted ${client.host}:${client.port}`);
  for (;;) {
    const message = await client.receive();
    if (message === '') break; // the client closed (close_notify)
    await client.send(message);
  }
  client.close();
  console.log('server: client gone');
}

const serving = (async () => {
  for (;;) {
    let client: TLSSocket;
    try {
      client = await server.accept();
    } catch (err) {
      if (err instanceof ClosedError) return; // server.close() was called
      console.error('server: handshake failed:', (err as Error).message);
      continue;
    }
    void handle(client);
  }
})();

// --- the client ---
const client_ctx = new TLSClientContext(); // verifies the server and its host name
client_ctx.set_verify_locations(ca_file);

const client = new TLSSocket(new Socket(), client_ctx);
await client.connect('localhost', server.port);
console.log(`client: ${client}`);

for (const line of ['hello', 'ça va ?', 'bye']) {
  await client.send(line);
  const echo = await client.receive();
  console.log(`client: sent ${JSON.stringify(line)}, got back ${JSON.stringify(echo)}`);
}

client.close();
console.log(`client: ${client}`);
server.close();
await serving;
console.log(`server: ${server}`);
