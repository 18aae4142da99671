// Assertions shared by test files.
import { ClosedError, ErrorCode, TlsError } from '@rxtls/core';
import * as assert from 'uvu/assert';

/**
 * Awaits `p` (or calls it) and expects a TlsError with `code` (and a message
 * matching `re`); returns the error. Fails if nothing is thrown.
 */
export async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string, re?: RegExp): Promise<TlsError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.instance(err, TlsError);
    assert.is((err as TlsError).code, code, (err as Error).message);
    if (re) assert.match((err as Error).message, re);
    return err as TlsError;
  }
  throw new Error(`expected ${code}`);
}

/** Each call must throw (or reject with) a ClosedError; the call's source names a failure. */
export async function assertAllClosed(calls: ReadonlyArray<() => unknown>): Promise<void> {
  for (const call of calls) {
    let err: unknown;
    try {
      await call();
    } catch (e) {
      err = e;
    }
    assert.instance(err, ClosedError, String(call));
  }
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * Runs `fn` and names its outcome: 'ok', the ErrorCode it threw, or
 * `UNCODED …` for anything else (what the re-entrancy suites must never see).
 */
export function attempt(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    const code = (err as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' && KNOWN_CODES.has(code) ? code : `UNCODED ${String(err)}`;
  }
}
