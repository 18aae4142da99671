import * as net from 'node:net';
import { TlsEngine, TLSServerContext, connectTls } from '@rxtls/core';
import { adoptAcceptedSocket, startReading } from '../packages/core/src/net-handle.ts';
import { pki } from '/work/main/test/helpers/pki.ts';
const p = pki();
const TOTAL = 512 * 1024 * 1024;
const mode = process.argv[2] ?? 'adopt';
const ctx = new TLSServerContext(); ctx.load_certs(p.server.cert, p.server.key);
const onEngine = (e: TlsEngine) => { let n = 0; e.ondata = (d) => { n += d.length; if (n >= TOTAL) e.write('done'); }; };
const server = net.createServer({ noDelay: true, pauseOnConnect: mode === 'adopt' }, (accepted) => {
  if (mode !== 'adopt') return onEngine(new TlsEngine(accepted, ctx, { isServer: true }));
  let engine: TlsEngine | undefined;
  const s = adoptAcceptedSocket(accepted, (n, buf) => { engine?.feed(buf, n); return true; });
  engine = new TlsEngine(s, ctx, { isServer: true }, false);
  onEngine(engine);
  startReading(s);
});
async function pump(e: any) {
  const chunk = Buffer.alloc(64 * 1024, 97);
  for (let s = 0; s < TOTAL; s += chunk.length) if (!e.write(chunk)) await new Promise((r) => e.socket.once('drain', r));
}
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const port = (server.address() as any).port;
const c = connectTls({ host: 'localhost', port, ca: p.ca.cert });
let t0 = 0n;
c.onsecure = () => { t0 = process.hrtime.bigint(); pump(c); };
c.ondata = (d) => {
  if (d.toString().includes('done')) {
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(mode, (TOTAL / 1048576 / s).toFixed(0), 'MiB/s');
    c.destroy(); server.close();
  }
};
