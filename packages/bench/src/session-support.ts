// Client-side session reuse for the load generator's `--resume`, found at
// run time (the `session` option and `onsession` handler of TlsEngine): the
// harness reports "not available" instead of failing on a build without it.
import { TlsEngine, type ClientOptions } from '@rxtls/core';

/** How the load generator offers and keeps sessions, where the engine can. */
export interface SessionSupport {
  /** False when this build of @rxtls/core cannot resume sessions. */
  available: boolean;
  /** Adds `session` to the options of the next connection. */
  offer(options: ClientOptions, session: unknown): void;
  /** Calls `store` with every session (ticket) the engine receives. */
  capture(engine: TlsEngine, store: (session: unknown) => void): void;
}

/** Finds out whether this @rxtls/core resumes client sessions. */
export function sessionSupport(): SessionSupport {
  const available = typeof (TlsEngine.prototype as unknown as Record<string, unknown>)['getSession'] === 'function';
  return {
    available,
    offer(options, session) {
      if (available) (options as unknown as Record<string, unknown>)['session'] = session;
    },
    capture(engine, store) {
      if (available) (engine as unknown as Record<string, unknown>)['onsession'] = store;
    },
  };
}
