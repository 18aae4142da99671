// Load: one rxtls server process on the native transport (the default) holds
// 10,000 concurrent TLS connections, each completes an exchange (native
// clients), with zero errors; the server's memory per connection
// is measured and printed. Server and client are child processes with their
// descriptor limits raised (`ulimit -n`); clients bind several loopback source
// addresses so ephemeral ports never run short. A descriptor hard limit too
// low for that many skips the test with a message saying so.
//
//   RXTLS_LOAD_CONNECTIONS (default 10000)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const CONNECTIONS = Number(process.env.RXTLS_LOAD_CONNECTIONS ?? 10_000);
const MiB = 1024 * 1024;
const root = new URL('../../', import.meta.url).pathname;

interface Child {
  proc: ChildProcess;
  /** Resolves with the next JSON message (a whole object) that has `key`. */
  next<T>(key: string, ms: number): Promise<T>;
  send(line: string): void;
  stop(): Promise<void>;
}

/** Runs a helper under `bash -c 'ulimit -n LIMIT; exec node …'`, speaking JSON lines. */
function child(limit: number, script: string, args: string[], nodeFlags: string[] = []): Child {
  const quoted = [...nodeFlags, '--import', 'tsx', script, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const proc = spawn('bash', ['-c', `ulimit -n ${limit} && exec "${process.execPath}" ${quoted}`], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const messages: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      messages.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return; // not ours
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<void>((r) => proc.once('close', () => r()));
  proc.once('close', () => {
    for (const w of waiters.splice(0)) w();
  });
  return {
    proc,
    next: <T>(key: string, ms: number) =>
      withTimeout(
        new Promise<T>((resolve, reject) => {
          const look = () => {
            const i = messages.findIndex((m) => key in m);
            if (i >= 0) return resolve(messages.splice(i, 1)[0] as T);
            if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`${script} exited (${proc.exitCode ?? proc.signalCode}): ${stderr}`));
            waiters.push(look);
          };
          look();
        }),
        ms,
        `${script}: "${key}"`,
      ),
    send: (line) => proc.stdin!.write(`${line}\n`),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

const Load = suite('load');

Load(`one server process holds ${CONNECTIONS} concurrent TLS connections, each completes an exchange, zero errors`, async () => {
  const hard = spawnSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  const hardLimit = hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard);
  const limit = Math.min(65_536, hardLimit);
  // Each child raises its soft limit to this; the hard limit only root can raise.
  if (limit < CONNECTIONS + 256) {
    console.log(
      `SKIP load: the descriptor hard limit (ulimit -Hn) is ${hard}, too low for ${CONNECTIONS} connections; ` +
        `raise it (ulimit -Hn ${CONNECTIONS + 256} as root, or LimitNOFILE) or set RXTLS_LOAD_CONNECTIONS`,
    );
    return;
  }

  const server = child(limit, 'test/hostile/lib/load-server.ts', [pki().file('server', 'crt'), pki().file('server', 'key')], ['--expose-gc']);
  let client: Child | undefined;
  try {
    const { listening: port } = await server.next<{ listening: number }>('listening', 30_000);
    const stats = async () => {
      server.send('stats');
      return (await server.next<{ stats: Stats }>('stats', 60_000)).stats;
    };
    const base = await stats();

    const started = Date.now();
    client = child(limit, 'test/hostile/lib/load-client.ts', [String(port), String(CONNECTIONS), pki().file('ca', 'crt')]);
    const opened = await client.next<{ open: number; errors: number; samples: string[]; seconds: number }>('open', 240_000);
    assert.equal(opened.samples, [], 'no client errors');
    assert.is(opened.errors, 0);
    assert.is(opened.open, CONNECTIONS);

    const full = await stats();
    assert.is(full.live, CONNECTIONS, 'the server holds every connection at once');
    assert.is(full.secure, CONNECTIONS);
    assert.is(full.errors, 0);
    const perConnRss = (full.rss - base.rss) / CONNECTIONS;
    const perConnHeap = (full.heapUsed - base.heapUsed) / CONNECTIONS;
    console.log(
      `load: ${CONNECTIONS} connections open and exchanged in ${opened.seconds.toFixed(1)} s; ` +
        `server RSS ${(base.rss / MiB).toFixed(0)} -> ${(full.rss / MiB).toFixed(0)} MiB: ` +
        `${(perConnRss / 1024).toFixed(1)} KiB per connection (JS heap ${(perConnHeap / 1024).toFixed(1)} KiB of it); ` +
        `native ${JSON.stringify(full.native)}`,
    );

    client.send('close');
    const closed = await client.next<{ closed: number; clean: number; errors: number; samples: string[] }>('closed', 120_000);
    assert.equal(closed.samples, []);
    assert.is(closed.clean, CONNECTIONS, 'every connection closed with close_notify both ways');
    // The server side closes as the clients' close_notify arrives; wait until it has seen them all.
    let after = full;
    for (let i = 0; i < 100 && after.live > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await stats();
    }
    assert.is(after.live, 0);
    assert.is(after.errors, 0, `server errors: ${after.samples.join('; ')}`);
    console.log(`load: all closed cleanly after ${((Date.now() - started) / 1000).toFixed(1)} s; server RSS ${(after.rss / MiB).toFixed(0)} MiB, native ${JSON.stringify(after.native)}`);
  } finally {
    await client?.stop();
    await server.stop();
  }
});

interface Stats {
  live: number;
  secure: number;
  errors: number;
  samples: string[];
  rss: number;
  heapUsed: number;
  native: Record<string, number>;
}

Load.run();
