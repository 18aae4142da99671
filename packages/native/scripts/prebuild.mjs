// Makes the prebuilt binary a packed tarball carries (run by `prepack`):
// prebuildify builds prebuilds/<platform>-<arch>/node.napi.<libc>.node, the
// file node-gyp-build finds at run time. One N-API binary serves every Node
// whose OpenSSL is 3.x (20, 22, 24), as the addon takes OpenSSL's symbols
// from the node binary that loads it.
//
// The build runs in a scratch copy of the package, so build/Release (which
// tests and running processes load) is never rebuilt under them. Nothing is
// built when the prebuild is newer than every C++ source.
//
//   node scripts/prebuild.mjs [--force]
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { findNodeDir, isStale, jobs, packageRoot as root } from './toolchain.mjs';

const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const existing = (() => {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.node')).map((f) => join(dir, f));
  } catch {
    return [];
  }
})();
if (!process.argv.includes('--force') && existing.length > 0 && !existing.some(isStale)) {
  console.log(`@rxtls/native: ${existing.join(', ')} is up to date`);
  process.exit(0);
}

const require = createRequire(import.meta.url);
const prebuildify = require('prebuildify');
const scratch = mkdtempSync(join(tmpdir(), 'rxtls-prebuild-'));
try {
  for (const entry of ['src', 'binding.gyp', 'package.json']) cpSync(join(root, entry), join(scratch, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
  rmSync(dir, { recursive: true, force: true });
  // prebuildify passes its own copy of process.env to node-gyp, which reads
  // npm_config_* as its options: the headers of this Node, and the job count.
  const nodeDir = findNodeDir();
  if (nodeDir) process.env.npm_config_nodedir = nodeDir;
  process.env.npm_config_jobs = String(jobs);
  await new Promise((resolve, reject) => {
    prebuildify(
      {
        cwd: scratch,
        out: root,
        napi: true,
        // The Node running this (its headers, its OpenSSL); N-API makes the binary fit the others.
        targets: [{ runtime: 'node', target: process.versions.node }],
        strip: true,
        tagLibc: true,
        nodeGyp: require.resolve('node-gyp/bin/node-gyp.js'),
      },
      (err) => (err ? reject(err) : resolve()),
    );
  });
  console.log(`@rxtls/native: built ${readdirSync(dir).map((f) => join(dir, f)).join(', ')}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
