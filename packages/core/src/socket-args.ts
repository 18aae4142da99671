// Argument checks shared by Socket and TLSSocket; misuse reads the same everywhere.
import type { FileHandle } from 'node:fs/promises';

import { InvalidArgumentError } from './errors.js';

/** Checks a TCP port argument (shared with @rxtls/rx). @throws InvalidArgumentError unless an integer from 0 to 65535. */
export function checkPort(port: unknown): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('Expected "port" to be an integer from 0 to 65535');
}

export function checkHost(host: unknown): asserts host is string {
  if (typeof host !== 'string' || host.length === 0) throw new InvalidArgumentError('Expected "host" to be a non-empty string');
}

/** Milliseconds; 0 (and -1, for ports of code that used it) mean no limit. */
export function checkTimeout(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -1)
    throw new InvalidArgumentError(`Expected "${name}" to be an integer number of milliseconds (0 for none)`);
  return value < 0 ? 0 : value;
}

/** A read length: -1 (everything) or a count of bytes. */
export function checkLength(length: unknown): number {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < -1)
    throw new InvalidArgumentError('Expected "length" to be -1 or a non-negative integer');
  return length;
}

export function checkFlags(flags: unknown): void {
  if (flags !== undefined && (typeof flags !== 'number' || !Number.isInteger(flags)))
    throw new InvalidArgumentError('Expected "flags" to be an integer');
}

/**
 * An open `fs.promises.FileHandle` (duck-typed: Node exports no class to test
 * against). `send` reads it through `read()`, `load_certs` by its `fd`, and
 * both need it to be closable, so all three must be there.
 */
export const isFileHandle = (v: unknown): v is FileHandle =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as FileHandle).fd === 'number' &&
  typeof (v as FileHandle).read === 'function' &&
  typeof (v as FileHandle).close === 'function';

/** What `send` accepts: text (sent as UTF-8), bytes, or an open file streamed from its current position. */
export type SendMessage = string | Uint8Array | FileHandle;

export function checkMessage(message: unknown): asserts message is SendMessage {
  if (typeof message !== 'string' && !(message instanceof Uint8Array) && !isFileHandle(message))
    throw new InvalidArgumentError('Expected "message" to be a string, a Buffer or an open file (fs.promises.FileHandle)');
}
