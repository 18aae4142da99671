// Builds the addon with node-gyp against the headers of the Node that runs
// this script, so the addon uses the OpenSSL that Node ships (its symbols
// come from the node binary; no system libssl is linked).
//
//   node scripts/build-addon.mjs [--force] [--debug] [--sanitize]
//
// Set RXTLS_NODEDIR to build against another Node tree (see docs/ARCHITECTURE.md
// for building against a system OpenSSL instead).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { findNodeDir, isStale, jobs, packageRoot as root } from './toolchain.mjs';

const args = new Set(process.argv.slice(2));
const debug = args.has('--debug');
const sanitize = args.has('--sanitize');
const force = args.has('--force') || sanitize;
const addon = join(root, 'build', debug ? 'Debug' : 'Release', 'rxtls.node');

if (!force && !isStale(addon)) {
  console.log(`@rxtls/native: ${addon} is up to date`);
  process.exit(0);
}

const nodeDir = findNodeDir();
if (!nodeDir) {
  console.warn(`@rxtls/native: no Node headers with OpenSSL next to ${process.execPath}; ` +
    'node-gyp fetches them (set RXTLS_NODEDIR to a Node install prefix that has include/node/openssl to use local ones)');
}
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const configured = existsSync(join(root, 'build', 'Makefile')) && !force;
const common = [`--jobs=${jobs}`];
if (nodeDir) common.push(`--nodedir=${nodeDir}`);
if (debug) common.push('--debug');
const step = configured
  ? ['build', ...common]
  // gyp defines go after `--` (node-gyp would take `-D…` as its own option),
  // and gyp reads `-Dsanitize=1` as the integer 1 (binding.gyp compares `sanitize==1`).
  : ['rebuild', ...common, '--', `-Dsanitize=${sanitize ? 1 : 0}`];
const run = spawnSync(process.execPath, [gyp, ...step], { cwd: root, stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
