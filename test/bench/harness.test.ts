// The harness (bench/run.ts) in its tiny mode: the C load generator rows
// (openssl s_time, wrk) and a row of the JS load generator (@rxtls/bench,
// in the harness's process, on the native transport) have figures for
// every engine: rxtls (the native transport's server) and the JS
// transport's (rows marked [js], which carry no target). The load
// generator's own command is tested in rxtls-bench.test.ts. No timing
// thresholds: the figures themselves are not judged.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { Row } from '../../bench/lib/report.ts';
import { findNginx } from '../../bench/lib/server-process.ts';
import { withTimeout } from '../helpers/net.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function harness(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('s_time, wrk and JS load generator rows have figures for rxtls, rxtls [js], node:tls, tcp and nginx', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-bench-test-'));
  const json = join(dir, 'out.json');
  try {
    // --tiny: 1 s windows, one round; the variants but [js] are left out to keep it short.
    const run = await withTimeout(harness(['--tiny', '--only', 'stime,wrk,small', '--skip', 'offload,rx', '--json', json]), 150_000, 'bench --tiny');
    assert.is(run.code, 0, run.stderr);
    const out = JSON.parse(readFileSync(json, 'utf8')) as { scenarios: Row[]; pinning: { server: string | null; client: string | null }; clientTransport: string };
    assert.is(out.clientTransport, 'native', 'the JS load generator runs on the native transport');
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
    // Every row again for the JS transport's server, compared with the same node:tls, tcp and nginx figures.
    for (const [name, tcp] of [...rows, ...rows.map(([n, t]) => [`${n} [js]`, t] as const)]) {
      const r = byName.get(name);
      assert.ok(r, `row "${name}" in ${[...byName.keys()].join(' | ')}`);
      assert.ok(r.rxtls !== null && r.rxtls > 0, `${name}: rxtls ${r.rxtls} (${r.note ?? ''})`);
      assert.ok(r.node !== null && r.node > 0, `${name}: node:tls ${r.node} (${r.note ?? ''})`);
      assert.ok(r.ratio !== null && r.ratio > 0, `${name}: ratio ${r.ratio}`);
      if (tcp) assert.ok(r.tcp != null && r.tcp > 0, `${name}: tcp ${r.tcp}`);
      if (nginx) assert.ok(r.openssl != null && r.openssl > 0 && r.ratioNginx != null && r.ratioNginx > 0, `${name}: nginx ${r.openssl}`);
      // The targets stay on the rxtls (native) rows; [js] rows are figures beside node:tls.
      if (name.endsWith(' [js]')) assert.is(r.target, undefined, `${name}: no target`);
    }
    assert.ok(byName.get('full handshakes per server CPU-s (s_time)')!.target, 'the s_time target is on the rxtls row');
    // The JS load generator, run by the harness in its own process: TLS against the bench's self-signed certificate, and plain TCP.
    for (const name of ['64-byte messages/s (100 conns)', '64-byte messages/s (100 conns) [js]', '64-byte latency p99 [js]']) {
      const small = byName.get(name);
      assert.ok(small, `${name} row in ${[...byName.keys()].join(' | ')}`);
      for (const column of ['rxtls', 'node', 'tcp'] as const) assert.ok((small[column] ?? 0) > 0, `${name}: ${column} ${small[column]} (${small.note ?? ''})`);
    }
    // s_time -reuse really resumed: a TLS 1.3 ticket is read only if the request is answered and closed.
    const note = byName.get('resumed handshakes/s (s_time)')!.note ?? '';
    for (const engine of ['rxtls', 'rxtls \\[js\\]', 'node:tls']) {
      const share = new RegExp(`counted as resumed:.*\\b${engine} (\\d+) %`).exec(note);
      assert.ok(share && Number(share[1]) >= 90, `${engine} resumed share in: ${note}`);
    }
    // Pinned apart where the machine allows it: the harness says which way it went.
    assert.ok(out.pinning.server === null || out.pinning.server !== out.pinning.client, JSON.stringify(out.pinning));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the cluster scenario measures 1 and 2 reusePort worker processes in one run, and the ratio', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-bench-test-'));
  const json = join(dir, 'out.json');
  try {
    const run = await withTimeout(harness(['--tiny', '--only', 'cluster', '--json', json]), 120_000, 'bench --tiny --only cluster');
    assert.is(run.code, 0, run.stderr);
    const rows = (JSON.parse(readFileSync(json, 'utf8')) as { scenarios: Row[] }).scenarios;
    const byName = new Map(rows.map((r) => [r.name, r]));
    const one = byName.get('full handshakes/s, 1 worker process (s_time, native, reusePort)');
    const two = byName.get('full handshakes/s, 2 worker processes (s_time, native, reusePort)');
    const ratio = byName.get('handshake scaling, 2 workers / 1');
    assert.ok(one && two && ratio, [...byName.keys()].join(' | '));
    assert.ok((one.rxtls ?? 0) > 0 && (two.rxtls ?? 0) > 0, `${one.rxtls} ${two.rxtls} (${one.note ?? ''})`);
    // The ratio of the unrounded rates: within rounding of the rounded ones.
    assert.ok(Math.abs(ratio.rxtls! - two.rxtls! / one.rxtls!) < 0.02, `${ratio.rxtls} vs ${two.rxtls! / one.rxtls!}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
