// The bench load generator (bench/loadgen.ts, its own process) against an
// rxtls echo server in this process: it reports counts and a histogram that
// make sense; and the harness's C load generator rows (openssl s_time, wrk)
// in its tiny mode. No timing thresholds: the figures themselves are not judged.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createSelfSignedCertificate, createTlsServer } from '@rxtls/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { LoadResult } from '../../bench/lib/loadgen-core.ts';
import type { Row } from '../../bench/lib/report.ts';
import { findNginx } from '../../bench/lib/server-process.ts';
import { withTimeout } from '../helpers/net.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function loadgen(args: string[], script = 'bench/loadgen.ts'): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lastResult(stdout: string): LoadResult {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{"result"'));
  assert.ok(line, `no result line in: ${stdout}`);
  return (JSON.parse(line) as { result: LoadResult }).result;
}

function echoServer(): Promise<{ server: Server; port: number }> {
  const { cert, key } = createSelfSignedCertificate();
  const server = createTlsServer({ cert, key }, (engine) => {
    engine.ondata = (chunk) => engine.write(chunk);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

// The load generator has closed its connections by the time it exits.
const close = (server: Server) => new Promise<void>((r) => server.close(() => r()));

function checkHistogram(r: LoadResult, count: number): void {
  const l = r.latency;
  assert.is(l.count, count, 'one latency sample per counted operation');
  assert.ok(l.p50 > 0, `p50 ${l.p50} > 0`);
  assert.ok(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, `ordered: ${JSON.stringify(l)}`);
  assert.ok(l.mean > 0 && l.mean <= l.max, `mean within range: ${JSON.stringify(l)}`);
}

test('echo mode: counts requests and bytes, histogram is ordered, TLS 1.3 negotiated', async () => {
  const { server, port } = await echoServer();
  try {
    const run = await withTimeout(
      loadgen([`127.0.0.1:${port}`, '--mode', 'echo', '--connections', '4', '--size', '64', '--duration', '2', '--warmup', '0.2', '--json', '--events']),
      45_000,
      'loadgen echo',
    );
    assert.is(run.code, 0, run.stderr);
    const events = run.stdout.split('\n').filter((l) => l.startsWith('{"event"')).map((l) => (JSON.parse(l) as { event: string }).event);
    assert.ok(events.includes('measure-start') && events.includes('measure-end'), `events: ${events.join(',')}`);
    const r = lastResult(run.stdout);
    assert.is(r.mode, 'echo');
    assert.is(r.errors, 0, r.firstError ?? '');
    assert.ok(r.requests > 0, 'requests counted');
    assert.is(r.bytesSent, r.requests * 64);
    assert.ok(r.bytesReceived >= r.bytesSent - 4 * 64, 'echoed bytes come back');
    assert.ok(r.requestsPerSec > 0 && r.seconds > 0);
    checkHistogram(r, r.requests);
    assert.is(r.tls?.protocol, 'TLSv1.3');
  } finally {
    await close(server);
  }
});

test('handshake mode: counts handshakes with a latency per handshake', async () => {
  const { server, port } = await echoServer();
  try {
    const run = await withTimeout(
      loadgen([`127.0.0.1:${port}`, '--mode', 'handshake', '--connections', '4', '--duration', '1.5', '--warmup', '0.2', '--json']),
      45_000,
      'loadgen handshake',
    );
    assert.is(run.code, 0, run.stderr);
    const r = lastResult(run.stdout);
    assert.ok(r.handshakes > 0, 'handshakes counted');
    assert.ok(r.handshakesPerSec > 0);
    checkHistogram(r, r.handshakes);
  } finally {
    await close(server);
  }
});

test('the generator refuses targets off loopback and prints usage', async () => {
  const off = await loadgen(['192.0.2.1:443', '--duration', '1']);
  assert.is(off.code, 2);
  assert.match(off.stderr, /only targets loopback/);
  const help = await loadgen(['--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /--new-connection/);
});

test('download over the bench stream protocol against an rxtls stream server', async () => {
  const { StreamProtocol } = await import('../../bench/lib/protocols.ts');
  const { cert, key } = createSelfSignedCertificate();
  const server = createTlsServer({ cert, key }, (engine) => {
    const p = new StreamProtocol({ write: (d) => engine.write(d), onceDrain: (fn) => engine.socket.once('drain', fn), end: () => engine.end() });
    engine.ondata = (chunk) => p.push(chunk);
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  try {
    const run = await withTimeout(loadgen([`127.0.0.1:${port}`, '--mode', 'download', '--size', '4m', '--json']), 45_000, 'loadgen download');
    assert.is(run.code, 0, run.stderr);
    const r = lastResult(run.stdout);
    assert.is(r.bytesReceived, 4 * 1024 * 1024);
    assert.is(r.requests, 1);
  } finally {
    await close(server);
  }
});

test('C load generators: s_time and wrk rows have figures for rxtls, node:tls, tcp and nginx', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-bench-test-'));
  const json = join(dir, 'out.json');
  try {
    // --tiny: 1 s windows, one round; the variants are left out to keep it short.
    const run = await withTimeout(loadgen(['--tiny', '--only', 'stime,wrk', '--skip', 'offload,rx', '--json', json], 'bench/run.ts'), 150_000, 'bench --tiny');
    assert.is(run.code, 0, run.stderr);
    const out = JSON.parse(readFileSync(json, 'utf8')) as { scenarios: Row[]; pinning: { server: string | null; client: string | null } };
    const byName = new Map(out.scenarios.map((r) => [r.name, r]));
    const nginx = findNginx() !== null;
    const rows = [
      ['full handshakes/s (s_time)', false],
      ['full handshakes per server CPU-s (s_time)', false],
      ['resumed handshakes/s (s_time)', false],
      ['resumed handshakes per server CPU-s (s_time)', false],
      ['HTTPS minimal keep-alive req/s (wrk)', true],
      ['HTTPS minimal keep-alive req per server CPU-s (wrk)', true],
      ['HTTPS minimal new conn req/s (wrk)', true],
      ['HTTPS minimal new conn req per server CPU-s (wrk)', true],
    ] as const;
    for (const [name, tcp] of rows) {
      const r = byName.get(name);
      assert.ok(r, `row "${name}" in ${[...byName.keys()].join(' | ')}`);
      assert.ok(r.rxtls !== null && r.rxtls > 0, `${name}: rxtls ${r.rxtls} (${r.note ?? ''})`);
      assert.ok(r.node !== null && r.node > 0, `${name}: node:tls ${r.node} (${r.note ?? ''})`);
      assert.ok(r.ratio !== null && r.ratio > 0, `${name}: ratio ${r.ratio}`);
      if (tcp) assert.ok(r.tcp != null && r.tcp > 0, `${name}: tcp ${r.tcp}`);
      if (nginx) assert.ok(r.openssl != null && r.openssl > 0 && r.ratioNginx != null && r.ratioNginx > 0, `${name}: nginx ${r.openssl}`);
    }
    // s_time -reuse really resumed: a TLS 1.3 ticket is read only if the request is answered and closed.
    const note = byName.get('resumed handshakes/s (s_time)')!.note ?? '';
    for (const engine of ['rxtls', 'node:tls']) {
      const share = new RegExp(`counted as resumed:.*\\b${engine} (\\d+) %`).exec(note);
      assert.ok(share && Number(share[1]) >= 90, `${engine} resumed share in: ${note}`);
    }
    // Pinned apart where the machine allows it: the harness says which way it went.
    assert.ok(out.pinning.server === null || out.pinning.server !== out.pinning.client, JSON.stringify(out.pinning));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
