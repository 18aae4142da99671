import * as net from 'node:net';
import * as tls from 'node:tls';
import { createTlsServer } from '@rxtls/core';
import { pki } from '../test/helpers/pki.js';
const p = pki();
const server = createTlsServer({ ...p.server, proxyProtocol: { trusted: ['127.0.0.1'] } }, (engine) => {
  console.log('engine', engine.socket.remoteAddress);
  engine.onsecure = () => { console.log('secure'); engine.write('hi\n'); };
  engine.onerror = (e) => console.log('engine err', e);
});
server.on('tlsClientError', (e) => console.log('refused', e));
server.listen(0, '127.0.0.1', async () => {
  const port = (server.address() as net.AddressInfo).port;
  const raw = net.connect(port, '127.0.0.1');
  await new Promise((r) => raw.once('connect', r));
  raw.write('PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n');
  await new Promise((r) => setTimeout(r, 50));
  const c = tls.connect({ socket: raw, ca: p.ca.cert, servername: 'localhost' });
  c.on('secureConnect', () => console.log('client secure'));
  c.on('data', (d) => { console.log('client got', String(d)); process.exit(0); });
  c.on('error', (e) => console.log('client err', e));
  setTimeout(() => { console.log('timeout'); process.exit(1); }, 3000);
});
