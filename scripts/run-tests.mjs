// Runs every test/**/*.test.ts file in its own Node process (uvu, through
// tsx), two at a time, and ends with the plain line CI reads:
//   N passed, N failed
// A file that crashes, times out or exits non-zero counts as a failure even
// if its own summary said otherwise.
//
//   node scripts/run-tests.mjs [filter …]   (filters match file paths)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const FILE_TIMEOUT_MS = Number(process.env.RXTLS_TEST_FILE_TIMEOUT_MS ?? 300_000);
const CONCURRENCY = Number(process.env.RXTLS_TEST_CONCURRENCY ?? Math.min(2, availableParallelism()));

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...find(p));
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

const files = find(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
const count = (text, label) => {
  const m = new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout also ends the peers it started
      // (openssl s_server, child servers) instead of leaving them running.
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = stripAnsi(output);
      const total = count(text, 'Total');
      const passed = count(text, 'Passed');
      const skipped = count(text, 'Skipped') ?? 0;
      let failed = total !== undefined && passed !== undefined ? total - passed - skipped : 0;
      const ok = code === 0 && !timedOut && total !== undefined && failed === 0;
      // A file that died before its summary still counts as one failure.
      if (!ok && failed === 0) failed = 1;
      resolve({ file, ok, passed: passed ?? 0, failed, skipped, code, signal, timedOut, text, ms: Date.now() - started });
    });
  });
}

const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file);
    results.push(r);
    const name = relative(root, r.file);
    const status = r.ok ? 'ok  ' : 'FAIL';
    console.log(`${status} ${name}  (${r.passed} passed, ${r.failed} failed, ${(r.ms / 1000).toFixed(1)} s)`);
    if (!r.ok) {
      const why = r.timedOut ? `timed out after ${FILE_TIMEOUT_MS} ms` : `exit ${r.code ?? r.signal}`;
      console.log(`---- ${name}: ${why}\n${r.text.trimEnd()}\n----`);
    }
  }
}

if (files.length === 0) {
  console.log('no test files matched');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
await Promise.all(Array.from({ length: Math.max(1, CONCURRENCY) }, worker));
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const skipped = results.reduce((a, r) => a + r.skipped, 0);
console.log('');
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && results.every((r) => r.ok) ? 0 : 1);
