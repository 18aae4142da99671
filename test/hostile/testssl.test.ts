// testssl.sh (Debian's `testssl.sh` package, command `testssl`) against an
// rxtls server with default settings on 127.0.0.1: the cipher categories
// (-s), every suite per protocol (-E) and the vulnerability checks (-U).
// The verdict: no CBC suite offered, nothing marked VULNERABLE (it used to
// list "Obsolete CBC ciphers offered" and LUCKY13 "potentially VULNERABLE").
// Loopback only: the target is an IP literal, `--nodns none` does no DNS
// lookup at all, and without `--phone-out` testssl.sh contacts no CRL/OCSP
// server. Skipped when testssl.sh is missing, except in CI (CI=true), where
// that fails. It takes about 1-2 minutes (printed at the end).
import { spawn, spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';

import { createTlsServer } from '@rxtls/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { withTimeout } from '../helpers/net.js';
import { pki } from '../helpers/pki.js';

const SCAN_TIMEOUT_MS = 240_000;

/** The testssl.sh command: `testssl` (Debian) or `testssl.sh` (upstream), or undefined. */
function testsslCommand(): string | undefined {
  return ['testssl', 'testssl.sh'].find((cmd) => !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error);
}

/** Runs testssl.sh to completion (killed after SCAN_TIMEOUT_MS); resolves with its output. */
function scan(cmd: string, port: number): Promise<string> {
  const args = ['--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none', '--connect-timeout', '10', '--openssl-timeout', '10'];
  const proc = spawn(cmd, [...args, '-s', '-E', '-U', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const done = new Promise<string>((resolve) => proc.once('close', () => resolve(out)));
  return withTimeout(done, SCAN_TIMEOUT_MS, 'testssl.sh').finally(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
}

/** The suites `-E` listed under `protocol` (e.g. `TLS 1.2`): their OpenSSL and IANA names. */
function suitesOf(report: string, protocol: string): string[] {
  const lines = report.split('\n');
  const start = lines.findIndex((l) => l.trim() === protocol);
  if (start < 0) return [];
  const found: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s*x[0-9a-f]{2,6}\s+(\S+).*\s(TLS_\S+)\s*$/.exec(line);
    if (!m) break;
    found.push(`${m[1]} ${m[2]}`);
  }
  return found;
}

const TestSsl = suite('testssl.sh');

TestSsl('a default rxtls server: AEAD suites only, no CBC suite, no VULNERABLE line', async () => {
  const cmd = testsslCommand();
  if (!cmd) {
    if (process.env.CI === 'true') assert.unreachable('testssl.sh is not installed, and CI=true (.ci/run installs it)');
    console.log('  SKIPPED: testssl.sh is not installed (Debian: apt-get install -y testssl.sh)');
    return;
  }
  const server = createTlsServer({ cert: pki().server.cert, key: pki().server.key }, (engine) => {
    engine.ondata = (c) => engine.write(c);
    engine.onerror = () => {}; // testssl.sh's probes fail handshakes on purpose
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const started = Date.now();
  let report: string;
  try {
    report = await scan(cmd, (server.address() as AddressInfo).port);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  console.log(`  testssl.sh -s -E -U took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const context = `\n--- testssl.sh output ---\n${report}`;
  assert.match(report, /^ Done \d{4}-\d\d-\d\d/m, `the scan completed${context}`);

  // -s: the categories were tested, and CBC is not offered.
  assert.match(report, /Obsolete CBC ciphers \(AES, ARIA etc\.\)\s+not offered/, `CBC category${context}`);
  assert.match(report, /Strong encryption \(AEAD ciphers\)\s+offered/, `AEAD category${context}`);

  // -E: it listed real suites (the check did not pass vacuously), all AEAD.
  const tls12 = suitesOf(report, 'TLS 1.2');
  const tls13 = suitesOf(report, 'TLS 1.3');
  assert.ok(tls12.length >= 3, `TLS 1.2 suites listed: ${tls12.join(', ')}${context}`);
  assert.ok(tls13.length >= 1, `TLS 1.3 suites listed${context}`);
  for (const s of tls12) assert.match(s, /GCM|CHACHA20_POLY1305/, `TLS 1.2 suite is AEAD: ${s}`);
  assert.not.match(report, /_CBC_/, `no CBC suite listed${context}`);
  for (const p of ['SSLv2', 'SSLv3', 'TLS 1', 'TLS 1.1']) assert.is(suitesOf(report, p).length, 0, `${p}: nothing offered`);

  // -U: the vulnerability checks ran, and none found anything.
  for (const check of ['Heartbleed', 'CCS', 'ROBOT', 'Secure Renegotiation', 'POODLE, SSL', 'SWEET32', 'FREAK', 'DROWN', 'LOGJAM', 'BEAST', 'LUCKY13', 'RC4'])
    assert.ok(report.includes(` ${check} `) || report.includes(` ${check}(`) || report.includes(`${check} (`), `${check} was checked${context}`);
  assert.match(report, /LUCKY13 \(CVE-2013-0169\), experimental\s+not vulnerable/, `LUCKY13${context}`);
  assert.not.match(report, /VULNERABLE/, `a VULNERABLE line${context}`);
});

TestSsl.run();
