// 64-byte echo (100 connections) and full handshakes per second against three
// servers: rxtls on the native transport, rxtls on the JS transport, node:tls.
// The server runs in a child process (pinned to CPU 0 when taskset exists),
// the load generator here (CPU 1), always the same client: rxtls on the
// native transport. Per server CPU-second figures come from the child's
// process.cpuUsage().
//
//   node --import tsx bench/native-transport-echo.ts [seconds per run, default 5]
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { connectTls, createSelfSignedCertificate, createTlsServer, type NativeTlsConnection } from '@rxtls/core';

const KINDS = ['native', 'js', 'node'] as const;
type Kind = (typeof KINDS)[number];

async function serve(kind: Kind): Promise<void> {
  const { cert, key } = JSON.parse(process.env.BENCH_PAIR!) as { cert: string; key: string };
  const started = process.cpuUsage();
  const report = () => {
    const u = process.cpuUsage(started);
    process.stdout.write(JSON.stringify({ cpu: (u.user + u.system) / 1e6 }) + '\n');
  };
  const ready = (port: number) => process.stdout.write(JSON.stringify({ port }) + '\n');
  if (kind === 'node') {
    const tls = await import('node:tls');
    const s = tls.createServer({ cert, key }, (sock) => sock.on('data', (d) => sock.write(d)).on('error', () => {}));
    s.listen(0, '127.0.0.1', () => ready((s.address() as { port: number }).port));
  } else if (kind === 'native') {
    const s = createTlsServer({ cert, key, transport: 'native' }, (c) => (c.ondata = (d) => c.write(d)));
    s.listen(0, '127.0.0.1', () => ready(s.address()!.port));
  } else {
    const s = createTlsServer({ cert, key }, (e) => (e.ondata = (d) => e.write(d)));
    s.listen(0, '127.0.0.1', () => ready((s.address() as { port: number }).port));
  }
  process.stdin.on('data', (d) => {
    if (d.toString().includes('reset')) Object.assign(started, process.cpuUsage());
    if (d.toString().includes('report')) report();
  });
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface Server {
  port: number;
  /** Server CPU seconds since the last reset. */
  cpu(): Promise<number>;
  reset(): void;
  stop(): void;
}

async function startServer(kind: Kind, pair: { cert: string; key: string }): Promise<Server> {
  const self = fileURLToPath(import.meta.url);
  const args = ['--import', 'tsx', self, 'serve', kind];
  const child = hasTaskset
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { env: { ...process.env, BENCH_PAIR: JSON.stringify(pair) } })
    : spawn(process.execPath, args, { env: { ...process.env, BENCH_PAIR: JSON.stringify(pair) } });
  const lines: Array<(v: Record<string, number>) => void> = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.shift()?.(JSON.parse(line));
    }
  });
  const next = () => new Promise<Record<string, number>>((r) => lines.push(r));
  const { port } = await next();
  return {
    port: port!,
    cpu: async () => {
      const p = next();
      child.stdin.write('report\n');
      return (await p).cpu!;
    },
    reset: () => child.stdin.write('reset\n'),
    stop: () => child.kill(),
  };
}

const connect = (port: number, ca: string) =>
  new Promise<NativeTlsConnection>((resolve, reject) => {
    const c = connectTls({ host: '127.0.0.1', port, ca, verifyHost: 'localhost', transport: 'native' });
    c.onsecure = () => resolve(c);
    c.onclose = (e) => reject(e ?? new Error('closed'));
  });

async function echo(port: number, ca: string, seconds: number, server: Server) {
  const conns = await Promise.all(Array.from({ length: 100 }, () => connect(port, ca)));
  const msg = Buffer.alloc(64, 7);
  let count = 0;
  let stop = false;
  server.reset();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    conns.map(
      (c) =>
        new Promise<void>((resolve) => {
          let got = 0;
          c.ondata = (d) => {
            got += d.length;
            while (got >= 64) {
              got -= 64;
              count++;
              if (stop) return resolve();
              c.write(msg);
            }
          };
          c.write(msg);
          setTimeout(() => (stop = true), seconds * 1000);
        }),
    ),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = await server.cpu();
  for (const c of conns) c.destroy();
  return { perSecond: count / elapsed, perCpuSecond: count / cpu };
}

async function handshakes(port: number, ca: string, seconds: number, server: Server) {
  let count = 0;
  const until = Date.now() + seconds * 1000;
  server.reset();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (Date.now() < until) {
        (await connect(port, ca)).destroy();
        count++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = await server.cpu();
  return { perSecond: count / elapsed, perCpuSecond: count / cpu };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const pair = createSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  if (hasTaskset) execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const rows: string[] = [];
  for (const kind of KINDS) {
    const server = await startServer(kind, pair);
    try {
      const e = await echo(server.port, pair.cert, seconds, server);
      const h = await handshakes(server.port, pair.cert, seconds, server);
      rows.push(
        `${kind.padEnd(7)} echo ${e.perSecond.toFixed(0).padStart(7)} msg/s ${e.perCpuSecond.toFixed(0).padStart(7)} msg/CPU-s` +
          `   handshakes ${h.perSecond.toFixed(0).padStart(6)} /s ${h.perCpuSecond.toFixed(0).padStart(6)} /CPU-s`,
      );
      console.log(rows[rows.length - 1]);
    } finally {
      server.stop();
    }
  }
}

if (process.argv[2] === 'serve') void serve(process.argv[3] as Kind);
else await main();
