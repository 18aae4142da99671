// Many cores on one address: runWorkers with two native workers bound with
// SO_REUSEPORT (test/helpers/cluster-app.ts). Both get connections; a ticket
// from one resumes on the other (rxtls and openssl s_client); a worker told
// to stop finishes a 64 MiB transfer while new connections go to the others;
// a killed worker is replaced and the port keeps answering.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { connectTls, type NativeTlsConnection } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { bigDigest } from '../helpers/cluster-big.js';
import { freePort, withTimeout } from '../helpers/net.js';
import { runSClient } from '../helpers/openssl.js';
import { pki } from '../helpers/pki.js';

const p = pki();
const dir = mkdtempSync(join(tmpdir(), 'rxtls-cluster-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

type Msg = { listening?: number; pids?: number[]; exit?: number; restarted?: boolean; worker?: number; failed?: string };

interface Fleet {
  port: number;
  pids: number[];
  proc: ChildProcess;
  /** Resolves with the first message from now on that `match` accepts. */
  next(match: (m: Msg) => boolean, label: string): Promise<Msg>;
  stop(): Promise<number | null>;
}

async function startFleet(port?: number): Promise<Fleet> {
  port ??= await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('../helpers/cluster-app.ts', import.meta.url).pathname], {
    env: { ...process.env, PORT: String(port), WORKERS: '2', RXTLS_CERT: p.server.cert, RXTLS_KEY: p.server.key },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters: Array<{ match: (m: Msg) => boolean; resolve: (m: Msg) => void }> = [];
  proc.on('message', (m: Msg) => {
    const i = waiters.findIndex((w) => w.match(m));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const next = (match: (m: Msg) => boolean, label: string) =>
    withTimeout(new Promise<Msg>((resolve) => waiters.push({ match, resolve })), 30_000, label);
  const up = await next((m) => m.listening !== undefined || m.failed !== undefined, 'cluster start');
  if (up.failed) {
    proc.kill('SIGTERM');
    await withTimeout(exited, 30_000, 'failed cluster exit');
    throw new Error(up.failed);
  }
  return {
    port,
    pids: up.pids!,
    proc,
    next,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return withTimeout(exited, 30_000, 'cluster stop');
    },
  };
}

interface Visit {
  pid: number;
  resumed: boolean;
  session: Buffer | null;
}

/** One connection: reads the worker's `pid <pid> <full|resumed>` line, says bye, waits for the close (and ticket). */
async function visit(port: number, session?: Buffer): Promise<Visit> {
  const c = connectTls({ host: 'localhost', port, ca: p.ca.cert, ...(session ? { session } : {}) });
  let text = '';
  let got: Buffer | null = null;
  c.onsession = (s) => (got = s);
  c.ondata = (d) => {
    text += d.toString();
    if (text.includes('\n')) c.write('bye\n');
  };
  const error = await withTimeout(new Promise((resolve) => (c.onclose = resolve)), 15_000, 'cluster visit');
  if (error) throw error;
  const m = /^pid (\d+) (full|resumed)$/m.exec(text);
  assert.ok(m, `answer: ${JSON.stringify(text)}`);
  return { pid: Number(m![1]), resumed: m![2] === 'resumed', session: got };
}

/** Visits (at most `max`) until `until` accepts one; SO_REUSEPORT picks the worker by a hash of the 4-tuple. */
async function visitUntil(port: number, until: (v: Visit) => boolean, max: number, session?: Buffer): Promise<Visit[]> {
  const seen: Visit[] = [];
  for (let i = 0; i < max; i++) {
    const v = await visit(port, session);
    seen.push(v);
    if (until(v)) return seen;
  }
  throw new Error(`no such visit in ${max}: ${seen.map((v) => v.pid).join(' ')}`);
}

const test = suite('cluster');
let fleet: Fleet;
test.before(async () => {
  fleet = await startFleet();
});
test.after(async () => {
  const code = await fleet.stop();
  assert.is(code, 0, 'the primary exits cleanly on SIGTERM');
});

test('two workers on one port both get connections, and resume each other\'s tickets (rxtls client)', async () => {
  assert.is(fleet.pids.length, 2);
  const first = await visit(fleet.port);
  assert.ok(fleet.pids.includes(first.pid));
  assert.not.ok(first.resumed);
  assert.ok(first.session, 'a ticket');
  const seen = await visitUntil(fleet.port, (v) => v.pid !== first.pid, 60);
  assert.ok(fleet.pids.includes(seen.at(-1)!.pid), 'both workers answer');
  // The first worker's ticket, offered until the other worker gets it.
  const other = await visitUntil(fleet.port, (v) => v.pid !== first.pid, 60, first.session!);
  for (const v of other) assert.ok(v.resumed, `resumed on ${v.pid} (issued by ${first.pid})`);
});

test('openssl s_client resumes on either worker with a ticket from the other', async () => {
  const file = join(dir, 'sess.pem');
  const sClient = (args: string[]) => runSClient(fleet.port, ['-CAfile', p.file('ca', 'crt'), '-ign_eof', ...args], 'bye\n', 20_000);
  const pidOf = (out: string) => Number(/^pid (\d+)/m.exec(out)![1]);
  for (const version of ['-tls1_3', '-tls1_2']) {
    const first = await sClient([version, '-sess_out', file]);
    assert.match(first.stdout, /^New, TLSv1\.[23]/m, first.stdout);
    const issuer = pidOf(first.stdout);
    let crossed = false;
    for (let i = 0; i < 40 && !crossed; i++) {
      const next = await sClient([version, '-sess_in', file]);
      assert.match(next.stdout, /^Reused, TLSv1\.[23]/m, `${version}: ${next.stdout}`);
      crossed = pidOf(next.stdout) !== issuer;
    }
    assert.ok(crossed, `${version}: a resumption on the worker that did not issue the ticket`);
  }
});

test('a worker told to stop finishes an in-flight 64 MiB transfer intact while new connections go elsewhere', async () => {
  const c = connectTls({ transport: 'native', host: 'localhost', port: fleet.port, ca: p.ca.cert }) as NativeTlsConnection;
  const hash = createHash('sha256');
  let header = '';
  let bytes = 0;
  let paused = false;
  let onPid!: (pid: number) => void;
  const pidKnown = new Promise<number>((r) => (onPid = r));
  let onFirstBlock!: () => void;
  const flowing = new Promise<void>((r) => (onFirstBlock = r));
  c.ondata = (d) => {
    if (!header.includes('\n')) {
      header += d.toString('latin1');
      const nl = header.indexOf('\n');
      if (nl < 0) return;
      onPid(Number(/^pid (\d+)/.exec(header)![1]));
      c.write('big\n');
      d = Buffer.from(header.slice(nl + 1), 'latin1');
      if (d.length === 0) return;
    }
    hash.update(d);
    bytes += d.length;
    if (bytes >= 1 << 20 && !paused) {
      paused = true;
      c.pause(); // the transfer is in flight and waits on us while the worker is stopped
      onFirstBlock();
    }
  };
  c.onend = () => c.end();
  const closed = new Promise<unknown>((resolve) => (c.onclose = resolve));
  const stopping = await withTimeout(pidKnown, 15_000, 'big: pid');
  await withTimeout(flowing, 15_000, 'big: first MiB');
  const replaced = fleet.next((m) => m.worker !== undefined, 'replacement listening');
  const exited = fleet.next((m) => m.exit === stopping, 'stopped worker exit');
  process.kill(stopping, 'SIGTERM');
  const replacement = (await replaced).worker!;
  // The stopping worker's listener is closed: new connections reach the others.
  for (let i = 0; i < 8; i++) assert.is.not((await visit(fleet.port)).pid, stopping, 'no new connection on the stopping worker');
  c.resume();
  const error = await withTimeout(closed, 60_000, 'big: close');
  assert.is(error, undefined);
  assert.is(bytes, 64 << 20);
  assert.is(hash.digest('hex'), bigDigest(), 'the 64 MiB arrived intact');
  const exit = await exited;
  assert.is(exit.restarted, false, 'a worker that stopped on purpose is replaced, not restarted');
  fleet.pids = fleet.pids.map((pid) => (pid === stopping ? replacement : pid));
  await visitUntil(fleet.port, (v) => v.pid === replacement, 60);
});

test('a killed worker is restarted and the port keeps answering', async () => {
  const victim = fleet.pids[0]!;
  const exited = fleet.next((m) => m.exit === victim, 'killed worker exit');
  const restarted = fleet.next((m) => m.worker !== undefined, 'restarted worker listening');
  process.kill(victim, 'SIGKILL');
  const exit = await exited;
  assert.is(exit.restarted, true);
  // Before the new worker is up, the other one takes every connection.
  for (let i = 0; i < 5; i++) assert.is.not((await visit(fleet.port)).pid, victim);
  const fresh = (await restarted).worker!;
  assert.is.not(fresh, victim);
  const seen = await visitUntil(fleet.port, (v) => v.pid === fresh, 60);
  assert.ok(seen.every((v) => v.pid !== victim), 'the killed worker answers nothing');
});

test('workers that cannot listen fail the fleet instead of restarting forever', async () => {
  // A plain listener (no SO_REUSEPORT) holds the port: every worker gets EADDRINUSE.
  const taken = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => taken.once('listening', resolve));
  try {
    const err = await startFleet((taken.address() as net.AddressInfo).port).then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err, 'the fleet did not start');
    assert.match(err!.message, /exited .* before it listened/);
  } finally {
    taken.close();
  }
});

test.run();
