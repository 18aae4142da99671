// Builds the addon with node-gyp against the headers of the Node that runs
// this script, so the addon uses the OpenSSL that Node ships (its symbols
// come from the node binary; no system libssl is linked).
//
//   node scripts/build-addon.mjs [--force] [--debug] [--sanitize]
//
// Set RXTLS_NODEDIR to build against another Node tree (see docs/ARCHITECTURE.md
// for building against a system OpenSSL instead).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const debug = args.has('--debug');
const sanitize = args.has('--sanitize');
const force = args.has('--force') || sanitize;
const buildDir = debug ? 'Debug' : 'Release';
const addon = join(root, 'build', buildDir, 'rxtls.node');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function findNodeDir() {
  if (process.env.RXTLS_NODEDIR) return process.env.RXTLS_NODEDIR;
  // Node installed under <prefix>/bin/node keeps its headers in <prefix>/include/node.
  for (const prefix of [resolve(dirname(process.execPath), '..'), '/usr', '/usr/local']) {
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) &&
        existsSync(join(prefix, 'include', 'node', 'openssl', 'ssl.h'))) return prefix;
  }
  return undefined;
}

const sourcesChanged = () =>
  Math.max(newestSource(join(root, 'src')), statSync(join(root, 'binding.gyp')).mtimeMs) >
  statSync(addon).mtimeMs;

if (!force && existsSync(addon) && !sourcesChanged()) {
  console.log(`@rxtls/native: ${addon} is up to date`);
  process.exit(0);
}

const nodeDir = findNodeDir();
if (!nodeDir) {
  console.error('@rxtls/native: no Node headers with OpenSSL found next to ' + process.execPath +
    '; set RXTLS_NODEDIR to a Node install prefix that has include/node/openssl');
  process.exit(1);
}
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const configured = existsSync(join(root, 'build', 'Makefile')) && !force;
const common = [`--nodedir=${nodeDir}`, `--jobs=${Math.max(1, Math.min(4, (await import('node:os')).availableParallelism()))}`];
if (debug) common.push('--debug');
const steps = configured
  ? [['build', ...common]]
  // gyp defines go after `--` (node-gyp would take `-D…` as its own option),
  // and gyp reads `-Dsanitize=1` as the integer 1 (binding.gyp compares `sanitize==1`).
  : [['rebuild', ...common, '--', `-Dsanitize=${sanitize ? 1 : 0}`]];
for (const step of steps) {
  const run = spawnSync(process.execPath, [gyp, ...step], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
