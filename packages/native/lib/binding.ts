// The only file that loads the compiled addon. It tries each place a build
// can be and, failing all, throws one error that lists every path tried.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The prebuilt binaries' folder for this platform (node-gyp-build picks the file in it). */
const prebuildDir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);

/**
 * Paths searched for the addon, in order: a build from source (Release,
 * then Debug), then the prebuilt binary for this platform. RXTLS_NATIVE_PATH,
 * when set, is the only path tried (the sanitizer run points it at its build).
 */
export const candidatePaths: readonly string[] = process.env.RXTLS_NATIVE_PATH
  ? [process.env.RXTLS_NATIVE_PATH]
  : [join(packageRoot, 'build', 'Release', 'rxtls.node'), join(packageRoot, 'build', 'Debug', 'rxtls.node'), prebuildDir];

/** The prebuild node-gyp-build chooses for this Node (N-API, libc); throws when none fits. */
function prebuildFile(): string {
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  // node-gyp-build looks in build/ first too; both were tried already, so what it finds here is a prebuild.
  return nodeGypBuild.path(packageRoot);
}

export function loadBinding(): unknown {
  const failures: string[] = [];
  for (const candidate of candidatePaths) {
    let path = candidate;
    if (candidate === prebuildDir) {
      try {
        path = prebuildFile();
      } catch (err) {
        failures.push(`${candidate}: ${(err as Error).message.split('\n')[0]}`);
        continue;
      }
    } else if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    try {
      return require(path);
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  throw new Error(
    `@rxtls/native: could not load its compiled addon for Node ${process.version} on ` +
      `${process.platform}-${process.arch}. Tried:\n  ${failures.join('\n  ')}\n` +
      'No prebuilt binary fits this system and no build from source is there. Rebuild it with ' +
      '`npm rebuild @rxtls/native` (needs python3, make and a C++ compiler), ' +
      'or set RXTLS_NATIVE_PATH to a built rxtls.node.',
  );
}
