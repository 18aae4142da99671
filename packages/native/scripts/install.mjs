// The package's install step. In the rxtls repository (a pnpm workspace) it
// always builds from source, so edits to the C++ take effect. Installed from
// the registry it uses the prebuilt binary when it loads here, and builds
// from source only when none fits (then python3, make and a C++ compiler
// are needed, and node-gyp, a dependency, does the build).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { packageRoot } from './toolchain.mjs';

const inRepository = existsSync(join(packageRoot, '..', '..', 'pnpm-workspace.yaml'));

function prebuildLoads() {
  const require = createRequire(import.meta.url);
  try {
    require(require('node-gyp-build').path(packageRoot));
    return true;
  } catch (err) {
    console.log(`@rxtls/native: no usable prebuilt binary (${err.message.split('\n')[0]}); building from source`);
    return false;
  }
}

if (inRepository || !prebuildLoads()) {
  const run = spawnSync(process.execPath, [join(packageRoot, 'scripts', 'build-addon.mjs')], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
