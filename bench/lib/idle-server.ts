// The measured server of bench/idle-breakdown.ts, in a process of its own:
//   node --expose-gc --import tsx bench/lib/idle-server.ts --transport native|js --cert FILE --key FILE
// Serves nothing (idle connections only) and counts every accepted
// connection, also those still waiting for their ClientHello; no handshake
// timeout, so a connection that never sends one stays. Prints one JSON line
// {"ready":port}, then answers each stdin line: `stats`, or `gc` (collect
// twice, then stats): {rss, heapUsed, external, arrayBuffers, accepted, secure}.
// Exits when stdin ends.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

import { parseCommandLine, UsageError } from '@rxtls/bench';
import { createTlsServer, TLSServerContext, type NativeTlsConnection, type TlsEngine } from '@rxtls/core';

async function main(): Promise<void> {
  const { values: f } = parseCommandLine({
    args: process.argv.slice(2),
    options: { transport: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } },
  });
  if (f.transport !== 'native' && f.transport !== 'js') throw new UsageError('--transport must be native or js');
  if (!f.cert || !f.key) throw new UsageError('--cert and --key are required');
  const context = new TLSServerContext();
  context.load_certs(readFileSync(f.cert, 'utf8'), readFileSync(f.key, 'utf8'));
  let secure = 0;
  let accepted: () => number;
  let port: number;
  let close: () => void;
  if (f.transport === 'native') {
    // The handler runs once the connection is secure; the server itself counts the handshaking ones.
    const server = createTlsServer({ context, transport: 'native', handshakeTimeout: 0 }, (conn: NativeTlsConnection) => {
      secure++;
      conn.onclose = () => secure--;
    });
    port = await new Promise<number>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve(server.address()!.port)));
    accepted = () => server.connections;
    close = () => server.close();
  } else {
    let open = 0;
    const server = createTlsServer({ context, transport: 'js', handshakeTimeout: 0 }, (engine: TlsEngine) => {
      open++;
      let counted = false;
      engine.onsecure = () => {
        counted = true;
        secure++;
      };
      engine.onclose = () => {
        open--;
        if (counted) secure--;
      };
    });
    port = await new Promise<number>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve((server.address() as AddressInfo).port)));
    accepted = () => open;
    close = () => server.close();
  }
  const stats = () => {
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, accepted: accepted(), secure };
  };
  const reply = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  reply({ ready: port });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'gc') {
      // Twice: the first pass may only queue finalizers of native objects.
      globalThis.gc?.();
      globalThis.gc?.();
    }
    reply(stats());
  });
  rl.on('close', () => {
    close();
    // Connections the parent left open must not keep the process alive.
    setTimeout(() => process.exit(0), 500).unref();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`idle server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
