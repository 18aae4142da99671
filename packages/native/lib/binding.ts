// The only file that loads the compiled addon. It tries each place a build
// can be and, failing all, throws one error that lists every path tried.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Paths searched for the addon, in order. RXTLS_NATIVE_PATH overrides them all. */
export const candidatePaths: readonly string[] = [
  ...(process.env.RXTLS_NATIVE_PATH ? [process.env.RXTLS_NATIVE_PATH] : []),
  join(packageRoot, 'build', 'Release', 'rxtls.node'),
  join(packageRoot, 'build', 'Debug', 'rxtls.node'),
  join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'rxtls.node'),
];

export function loadBinding(): unknown {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of candidatePaths) {
    if (!existsSync(path)) {
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
    `@rxtls/native: could not load the addon (run \`pnpm build\`). Tried:\n  ${failures.join('\n  ')}`,
  );
}
