// Features of the packages under test that are written separately: the
// harness runs the rows that need them only when they are there.
import { createTlsServer, TLSServerContext } from '@rxtls/core';
import { binding as nativeBinding } from '@rxtls/native';

/** Whether the native transport takes `handshakeOffload` (older cores refuse it with a ConfigError before listening). */
export function hasNativeHandshakeOffload(): boolean {
  if (typeof (nativeBinding as unknown as Record<string, unknown>)['tcpListen'] !== 'function') return false;
  try {
    // Nothing listens: the server is made and dropped (no handle until listen()).
    createTlsServer({ context: new TLSServerContext(), transport: 'native', handshakeOffload: true }, () => {});
    return true;
  } catch {
    return false;
  }
}

/** Whether @rxtls/rx has the listen() the [rx] rows need. */
export async function hasRxListen(): Promise<boolean> {
  try {
    const rx = (await import('@rxtls/rx')) as Record<string, unknown>;
    return typeof rx['listen'] === 'function';
  } catch {
    return false;
  }
}
