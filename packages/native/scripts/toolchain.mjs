// What the build scripts share: where the package is, which Node tree to
// build against, and whether the sources changed since a binary was made.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package directory (the one holding binding.gyp). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Compile jobs: the machine's cores, at most 4. */
export const jobs = Math.max(1, Math.min(4, availableParallelism()));

/**
 * The install prefix of the Node running this script when it has headers
 * with OpenSSL's (`<prefix>/include/node/openssl/ssl.h`), or RXTLS_NODEDIR;
 * undefined when neither: node-gyp then fetches this Node's headers.
 */
export function findNodeDir() {
  if (process.env.RXTLS_NODEDIR) return process.env.RXTLS_NODEDIR;
  for (const prefix of [resolve(dirname(process.execPath), '..'), '/usr', '/usr/local']) {
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) &&
        existsSync(join(prefix, 'include', 'node', 'openssl', 'ssl.h'))) return prefix;
  }
  return undefined;
}

function newest(dir) {
  let time = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    time = Math.max(time, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return time;
}

/** True when `binary` is missing or older than a C++ source or binding.gyp. */
export function isStale(binary) {
  if (!existsSync(binary)) return true;
  const sources = Math.max(newest(join(packageRoot, 'src')), statSync(join(packageRoot, 'binding.gyp')).mtimeMs);
  return sources > statSync(binary).mtimeMs;
}
