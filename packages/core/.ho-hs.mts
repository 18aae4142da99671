import { binding, CycleFlag, type NativeSession, type SessionOut } from '@rxtls/native';
import { createCertificateAuthority, issueCertificate } from '@rxtls/core';
const mode = process.argv[2]!; // sync | async
const N = 600, K = Number(process.argv[3] ?? 50);
const ca = createCertificateAuthority();
const srv = issueCertificate(ca, { commonName: 'localhost' });
const sctx = new binding.Context(binding.methods.TLS_server_method);
sctx.useCertificateChain(srv.cert, false, 1); sctx.usePrivateKey(srv.key, false, 1);
const cctx = new binding.Context(binding.methods.TLS_client_method);
cctx.addCACertificates(ca.cert);
async function one(): Promise<void> {
  const cout: SessionOut = [undefined, undefined, undefined];
  const sout: SessionOut = [undefined, undefined, undefined];
  const c = new binding.Session(cctx, false, cout, { servername: 'localhost', verifyHost: 'localhost' });
  const s = new binding.Session(sctx, true, sout);
  const step = (chunk: Buffer | undefined) => mode === 'sync' ? Promise.resolve(s.cycle(chunk)) : new Promise<number>((res) => { const r = s.cycleAsync(chunk, chunk?.length, res); if (r !== -1) res(r); });
  let cf = c.cycle();
  let done = false;
  for (let i = 0; i < 6 && !done; i++) {
    if (!(cf & CycleFlag.EncOut)) break;
    const toS = cout[1]!; cout[1] = undefined;
    const sf = await step(toS);
    if (sf & CycleFlag.Error) throw sout[2];
    if (sf & CycleFlag.Secure) done = true;
    if (sf & CycleFlag.EncOut) { const toC = sout[1]!; sout[1] = undefined; cf = c.cycle(toC); } else cf = 0;
  }
  if (!done) throw new Error('no handshake');
  c.free(); s.free();
}
// client-side cost is measured separately and subtracted: run the same with a client-only count? keep simple: total CPU.
const cpu0 = process.cpuUsage(); const t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: K }, async () => { while (next < N) { next++; await one(); } }));
const cpu = process.cpuUsage(cpu0); const ms = performance.now() - t0;
console.log(mode, `K=${K}`, `pool=${process.env.UV_THREADPOOL_SIZE ?? 4}`, `${(N / ms * 1000).toFixed(0)} hs/s wall`, `${((cpu.user + cpu.system) / 1000 / N * 1000).toFixed(0)} us CPU per handshake (client+server)`);
