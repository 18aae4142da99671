import * as core from '@rxtls/core';
import { pki } from '../../helpers/pki.ts';
const methodsOf = (o: object) => { const names = new Set<string>(); for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) for (const n of Object.getOwnPropertyNames(p)) { const d = Object.getOwnPropertyDescriptor(p, n)!; if (n !== 'constructor' && typeof d.value === 'function') names.add(n); } return [...names]; };
async function outcome(fn: () => unknown) { try { const v = await Promise.race([Promise.resolve(fn()), new Promise((_, rej) => setTimeout(() => rej(new Error('HANG')), 2000))]); return `ok ${typeof v === 'object' ? JSON.stringify(v)?.slice(0, 40) : String(v)}`; } catch (e: any) { return `${e.code ?? 'NOCODE'} ${e.constructor.name}: ${e.message.slice(0, 70)}`; } }
async function probe(label: string, obj: any, kill: () => unknown) {
  console.log(`== ${label}: kill ->`, await outcome(kill));
  for (const m of methodsOf(obj)) console.log(`  ${m}() ->`, await outcome(() => obj[m]()));
}
const ctx = new core.TLSClientContext();
await probe('SSLContext', new core.TLSServerContext(), function(this: any) { return (globalThis as any).x; });
const c2 = new core.TLSServerContext(); await probe('SSLContext freed', c2, () => c2.free());
const ssl = new core.SSL(ctx); await probe('SSL freed', ssl, () => ssl.free());
for (const B of [core.SSLBIO, core.ConnectBIO, core.AcceptedBIO]) { const b = new B(); await probe(B.name + ' freed', b, () => b.free()); }
const s = new core.Socket(); await probe('Socket closed', s, () => s.close());
const t = new core.TLSSocket(); await probe('TLSSocket closed', t, () => t.close());
process.exit(0);
