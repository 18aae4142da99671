// Client-side session reuse for the load generator's `--resume`, found at
// run time (the `session` option and `onsession` handler of both transports'
// connections): the harness reports "not available" instead of failing on a
// build without it.
import { NativeTlsConnection, TlsEngine, type ClientOptions, type SecureConnection, type Transport } from '@rxtls/core';

/** How the load generator offers and keeps sessions, where the transport can. */
export interface SessionSupport {
  /** False when this build of @rxtls/core cannot resume sessions on the transport. */
  available: boolean;
  /** Adds `session` to the options of the next connection. */
  offer(options: ClientOptions, session: unknown): void;
  /** Calls `store` with every session (ticket) the connection receives. */
  capture(connection: SecureConnection, store: (session: unknown) => void): void;
}

/** Finds out whether this @rxtls/core resumes client sessions on `transport` (default native). */
export function sessionSupport(transport: Transport = 'native'): SessionSupport {
  const proto = (transport === 'native' ? NativeTlsConnection.prototype : TlsEngine.prototype) as unknown as Record<string, unknown>;
  const available = typeof proto['getSession'] === 'function';
  return {
    available,
    offer(options, session) {
      if (available) (options as unknown as Record<string, unknown>)['session'] = session;
    },
    capture(connection, store) {
      if (available) connection.onsession = store;
    },
  };
}
