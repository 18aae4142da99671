// The command line: node:util parseArgs (strict, so a typo never silently
// runs the wrong benchmark) and readers for numbers and sizes that name the
// flag in their errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line; the message is meant for the user. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `parseArgs` of `node:util`, its errors (unknown flag, missing value) turned into UsageErrors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((err as Error).message);
    throw err;
  }
}

/** Reads `--name`'s value as a finite number; undefined when the flag was not given. */
export function numberValue(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${text}"`);
  return n;
}

/** Parses sizes like 64, 16k, 256MiB, 1g (binary units) into bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`cannot read size "${text}" (e.g. 64, 16k, 256m)`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * unit);
}
