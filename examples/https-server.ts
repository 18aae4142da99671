// HTTPS on node:http, with rxtls doing the TLS:
//   node --import tsx examples/https-server.ts [port]
// Serves until Ctrl-C (or, with RXTLS_EXAMPLE_ONESHOT=1, answers one request
// from node:https itself and exits). Try it with:
//   curl --cacert <printed CA file> https://localhost:<port>/
// Every rxtls connection becomes a TlsDuplex that node:http treats as its
// socket; TlsDuplex runs over a TlsEngine, so this server uses the JS
// transport (`transport: 'js'`: TLS over any transport). Shown too: ALPN,
// session tickets with shareable keys, and the client certificate when one
// is offered.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  createCertificateAuthority,
  createTlsServer,
  generateTicketKeys,
  issueCertificate,
  TlsDuplex,
} from '@rxtls/core';

const ca = createCertificateAuthority({ commonName: 'rxtls example CA' });
const leaf = issueCertificate(ca, { commonName: 'localhost' });
const dir = mkdtempSync(join(tmpdir(), 'rxtls-https-'));
const caFile = join(dir, 'ca.crt');
writeFileSync(caFile, ca.cert);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const app = http.createServer((req, res) => {
  const tls = req.socket as unknown as TlsDuplex;
  const info = tls.info();
  res.setHeader('content-type', 'text/plain');
  res.end(
    `hello from rxtls over ${info.protocol} (${info.cipher}, ${info.group})\n` +
      `alpn: ${info.alpnProtocol ?? 'none'}, resumed: ${info.resumed}\n` +
      `you asked for ${req.method} ${req.url}\n`,
  );
});

const server = createTlsServer(
  {
    transport: 'js',
    cert: leaf.cert,
    key: leaf.key,
    alpnProtocols: ['http/1.1'],
    // Give every instance behind the same address these bytes to share resumption.
    ticketKeys: generateTicketKeys(),
  },
  (engine) => app.emit('connection', new TlsDuplex(engine)),
);

const port = Number(process.argv[2] ?? 0);
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address() as AddressInfo;
  console.log(`https://localhost:${bound}/  (CA: ${caFile})`);
  console.log(`try: curl --cacert ${caFile} https://localhost:${bound}/`);
  if (process.env.RXTLS_EXAMPLE_ONESHOT !== '1') return;
  https
    .get({ host: 'localhost', port: bound, path: '/oneshot', ca: ca.cert, agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (text: string) => process.stdout.write(text));
      res.on('end', () => {
        app.closeAllConnections();
        server.close();
      });
    })
    .on('error', (err) => {
      console.error(err);
      process.exitCode = 1;
      server.close();
    });
});

process.on('SIGINT', () => {
  app.closeAllConnections();
  server.close();
});
