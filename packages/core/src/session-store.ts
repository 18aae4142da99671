// An asynchronous, shared session store for stateful resumption (TLS 1.2
// session IDs, TLS 1.3 stateful tickets): servers that share one resume
// each other's sessions. The engine asks it while the handshake is paused
// at the ClientHello; a slow, failing or absent store means a full
// handshake, never a hang.
import { InvalidArgumentError } from './errors.js';
import { kNative } from './internal.js';
import { binding } from './native.js';
import type { SSLContext } from './ssl-context.js';
import type { StoreSession } from '@rxtls/native';

/**
 * Where servers keep resumable sessions (e.g. `createRedisSessionStore`).
 * Keys are session IDs (up to 32 bytes), values serialised sessions: both
 * binary, and the values are secret (they hold the resumption secret).
 */
export interface SessionStore {
  /** The session stored for `id`, or undefined. A rejection counts as "none". */
  get(id: Buffer): Promise<Buffer | undefined>;
  /** Keeps `session` under `id` for `ttlSeconds` (the server's session timeout). */
  set(id: Buffer, session: Buffer, ttlSeconds: number): Promise<void>;
  /** Forgets `id`. */
  delete(id: Buffer): Promise<void>;
}

/** Default `sessionStoreTimeout`: milliseconds a lookup may take before the handshake goes on without it. */
export const DEFAULT_SESSION_STORE_TIMEOUT = 1000;

/**
 * Checks a `sessionStore` option.
 * @throws InvalidArgumentError unless it has `get`, `set` and `delete` functions.
 */
export function checkSessionStore(store: unknown): SessionStore {
  const s = store as Partial<SessionStore> | null;
  if (typeof s !== 'object' || s === null || typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.delete !== 'function')
    throw new InvalidArgumentError('Expected "sessionStore" to be an object with get, set and delete functions');
  return s as SessionStore;
}

/**
 * Checks a `sessionStoreTimeout` option (milliseconds, more than 0).
 * @throws InvalidArgumentError otherwise.
 */
export function checkSessionStoreTimeout(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError('Expected "sessionStoreTimeout" to be a number of milliseconds, more than 0');
  return value;
}

const enabled = new WeakSet<SSLContext>();

/**
 * Makes a server context resume through a session store only: OpenSSL's own
 * cache is off, handshakes that ask to resume pause for the lookup, and new
 * sessions are handed out for storing. Idempotent.
 */
export function enableSessionStore(context: SSLContext): void {
  if (enabled.has(context)) return;
  binding.setSessionStore(context[kNative], true);
  enabled.add(context);
}

/**
 * Asks the store for `id` within `timeoutMs`. Never rejects: a store that
 * throws, rejects, answers something that is not bytes, or takes too long
 * resolves undefined (a full handshake). A late answer is dropped.
 */
export function lookupSession(store: SessionStore, id: Buffer, timeoutMs: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    timer.unref();
    const done = (found: unknown): void => {
      clearTimeout(timer);
      resolve(found instanceof Uint8Array && found.length > 0 ? found : undefined);
    };
    let answer: unknown;
    try {
      answer = store.get(id);
    } catch {
      done(undefined);
      return;
    }
    Promise.resolve(answer).then(done, () => done(undefined));
  });
}

/** Hands new sessions to the store, without waiting; a failure only means they cannot be resumed. */
export function keepSessions(store: SessionStore, sessions: ReadonlyArray<StoreSession>): void {
  for (const s of sessions) {
    if (s.ttl <= 0) continue;
    try {
      Promise.resolve(store.set(s.id, s.session, s.ttl)).catch(() => {});
    } catch {
      // A store that throws: the session is simply not kept.
    }
  }
}

/** Deletes an entry, without waiting; a failure leaves it to its TTL. */
export function forgetSession(store: SessionStore, id: Buffer): void {
  try {
    Promise.resolve(store.delete(id)).catch(() => {});
  } catch {
    // A store that throws: the entry expires by itself.
  }
}
