import { setFlagsFromString } from 'node:v8'; import { runInNewContext } from 'node:vm';
setFlagsFromString('--expose-gc'); const gc = runInNewContext('gc') as () => void;
import { createServer, type AddressInfo } from 'node:net';
import { BIO_NOCLOSE, ConnectBIO, Socket, SSL, SSLBIO, TLSClientContext, nativeBinding } from '@rxtls/core';
const listener = createServer(() => {}); await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
const sock = new Socket(); await sock.connect('127.0.0.1', (listener.address() as AddressInfo).port);
const context = new TLSClientContext();
const variants: Record<string, () => void> = {
  sslNewFree: () => { const s = new SSL(context); s.free(); },
  sslSetFd: () => { const s = new SSL(context); s.set_fd(sock.id); s.free(); },
  sslNoFree: () => { new SSL(context); },
  sslBioAlone: () => { const b = new SSLBIO(); b.free(); },
  connectBioAlone: () => { const b = new ConnectBIO(); b.free(); },
  sslBioSetSsl: () => { const ssl = new SSL(context); const b = new SSLBIO(); b.set_ssl(ssl, BIO_NOCLOSE); b.free(); ssl.free(); },
  chain: () => { const b = new SSLBIO(); b.push(new ConnectBIO()); b.free_all(); },
  nativeBio: () => { const b = new (nativeBinding as any).Bio((nativeBinding as any).bioMethods.BIO_f_ssl); b.free(); },
  nativeBioGc: () => { new (nativeBinding as any).Bio((nativeBinding as any).bioMethods.BIO_f_ssl); },
  nativeFdSsl: () => { const b = new (nativeBinding as any).FdSsl((context as any)[Object.getOwnPropertySymbols(Object.getPrototypeOf(context)).find(() => true) as any] ?? null); b.free(); },
  nativeCtx: () => { const c = new nativeBinding.Context(nativeBinding.methods.TLS_client_method); c.free(); },
};
const settle = async () => { for (let i = 0; i < 5; i++) { gc(); await new Promise(r => setTimeout(r, 10)); } };
const name = process.argv[2]!; const fn = variants[name]!;
for (let i = 0; i < 2000; i++) fn(); await settle();
const r0 = process.memoryUsage().rss; const h0 = process.memoryUsage().heapUsed;
for (const n of [20000, 20000, 20000, 20000, 20000, 20000, 20000, 20000]) { for (let i = 0; i < n; i++) fn(); await settle();
  console.log(name.padEnd(16), 'rss +', ((process.memoryUsage().rss - r0) / 1048576).toFixed(1), 'MiB heap +', ((process.memoryUsage().heapUsed - h0) / 1048576).toFixed(1), JSON.stringify(nativeBinding.debugCounters())); }
sock.close(); listener.close(); process.exit(0);
