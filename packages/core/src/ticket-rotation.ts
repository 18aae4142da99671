// Session ticket keys that every member of a fleet derives alike from one
// shared secret and the clock, and rotates on its own: servers resume each
// other's tickets without talking to each other.
import { hkdfSync } from 'node:crypto';

import { ClosedError, InvalidArgumentError } from './errors.js';
import { TICKET_KEY_LENGTH } from './context-features.js';
import type { SSLContext } from './ssl-context.js';

/** Default rotation window: 12 hours. */
export const DEFAULT_TICKET_WINDOW_MS = 12 * 60 * 60 * 1000;

/** Fewest bytes a ticket secret may have. */
export const MIN_TICKET_SECRET_LENGTH = 32;

// setTimeout's longest delay; a longer window re-arms until its boundary.
const MAX_TIMER_MS = 2 ** 31 - 1;
const SALT = Buffer.from('rxtls ticket keys v1');

/** A shared secret: at least 32 bytes, or a hex string of them. */
export type TicketSecret = Uint8Array | string;

/** The secret's bytes, checked. */
function secretBytes(secret: TicketSecret): Buffer {
  if (typeof secret === 'string') {
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(secret))
      throw new InvalidArgumentError('Expected "ticketSecret" to be a hex string (an even number of hex digits)');
    secret = Buffer.from(secret, 'hex');
  }
  if (!(secret instanceof Uint8Array) || secret.length < MIN_TICKET_SECRET_LENGTH)
    throw new InvalidArgumentError(`Expected "ticketSecret" to be at least ${MIN_TICKET_SECRET_LENGTH} bytes (a Buffer or hex)`);
  return Buffer.from(secret);
}

function checkWindowMs(windowMs: unknown): asserts windowMs is number {
  if (typeof windowMs !== 'number' || !Number.isSafeInteger(windowMs) || windowMs < 1000)
    throw new InvalidArgumentError('Expected "ticketWindowMs" to be an integer number of milliseconds, 1000 or more');
}

/** The window `now` falls in: `floor(now / windowMs)`. */
export function ticketWindow(now: number, windowMs: number = DEFAULT_TICKET_WINDOW_MS): number {
  return Math.floor(now / windowMs);
}

/**
 * The ticket key of one window (80 bytes: 16 name, 32 HMAC, 32 AES):
 * HKDF-SHA256 with the secret as input key material, salt
 * `"rxtls ticket keys v1"` and info `"window <n>"` (n in decimal). Any
 * process, in any language, that knows the secret derives the same bytes.
 */
export function deriveTicketKey(secret: TicketSecret, window: number): Buffer {
  if (!Number.isSafeInteger(window) || window < 0) throw new InvalidArgumentError('Expected "window" to be an integer, 0 or more');
  return Buffer.from(hkdfSync('sha256', secretBytes(secret), SALT, `window ${window}`, TICKET_KEY_LENGTH));
}

/**
 * The keys a member holds in `window`, in the form `set_ticket_keys` takes:
 * current (seals new tickets), previous and next (open tickets only; a
 * ticket they open is re-issued under the current key). The previous one
 * keeps tickets from the last window valid; the next one covers a member
 * whose clock runs a little ahead.
 */
export function ticketKeyRing(secret: TicketSecret, window: number): Buffer {
  const bytes = secretBytes(secret);
  const keys = [deriveTicketKey(bytes, window), deriveTicketKey(bytes, window + 1)];
  if (window > 0) keys.splice(1, 0, deriveTicketKey(bytes, window - 1));
  return Buffer.concat(keys);
}

export interface TicketRotationOptions {
  /** The secret every member shares: at least 32 bytes, or hex. */
  secret: TicketSecret;
  /** Window length in milliseconds (default 12 h, at least 1 s). A ticket stays valid through the next window. */
  windowMs?: number;
  /** The clock, in milliseconds since the epoch (default `Date.now`); for tests. */
  now?: () => number;
  /** Called after the keys changed, with the new window number. */
  onrotate?: (window: number) => void;
}

/**
 * Keeps server contexts' ticket keys on the fleet's schedule: at once the
 * ring of the current window (`ticketKeyRing`), and again at each window
 * boundary, on an unref'd timer (it never keeps the process alive).
 * Tickets then resume on any member that shares the secret, during the
 * window they were issued in and the next one (and as long as their own
 * lifetime, `sessionTimeout`, allows). `createTlsServer({ ticketSecret })`
 * runs one for its context; `stop()` ends the timer.
 *
 * @example
 * const rotation = new TicketKeyRotation([ctx], { secret: process.env.TICKET_SECRET! });
 * // …
 * rotation.stop();
 */
export class TicketKeyRotation {
  readonly windowMs: number;
  readonly #secret: Buffer;
  readonly #contexts: SSLContext[];
  readonly #now: () => number;
  readonly #onrotate: ((window: number) => void) | undefined;
  #window = -1;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(contexts: SSLContext | ReadonlyArray<SSLContext>, options: TicketRotationOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Expected "options" to be an object');
    this.#secret = secretBytes(options.secret);
    const windowMs = options.windowMs ?? DEFAULT_TICKET_WINDOW_MS;
    checkWindowMs(windowMs);
    this.windowMs = windowMs;
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new InvalidArgumentError('Expected "now" to be a function');
    this.#now = options.now ?? Date.now;
    this.#onrotate = options.onrotate;
    this.#contexts = Array.isArray(contexts) ? [...contexts] : [contexts as SSLContext];
    this.update();
  }

  /** The window whose keys are in place. */
  get window(): number {
    return this.#window;
  }

  /**
   * Reads the clock and, when the window changed, sets the new ring on every
   * context. The timer calls it; call it yourself after changing an injected
   * clock. Returns the current window.
   */
  update(): number {
    if (this.#stopped) return this.#window;
    const window = ticketWindow(this.#now(), this.windowMs);
    if (window !== this.#window) {
      const ring = ticketKeyRing(this.#secret, window);
      for (const ctx of this.#contexts) ctx.set_ticket_keys(ring);
      ring.fill(0);
      this.#window = window;
      this.#arm();
      this.#onrotate?.(window);
    } else {
      this.#arm();
    }
    return window;
  }

  /** Stops rotating; the keys in place stay. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const untilNext = (this.#window + 1) * this.windowMs - this.#now();
    // +1: a timer may fire a millisecond early; update() re-arms if it did.
    this.#timer = setTimeout(() => this.#tick(), Math.min(Math.max(untilNext, 0) + 1, MAX_TIMER_MS));
    this.#timer.unref();
  }

  #tick(): void {
    try {
      this.update();
    } catch (err) {
      // A context freed under a running server: nothing left to rotate.
      if (err instanceof ClosedError) this.stop();
      else throw err;
    }
  }
}
