// Features of the packages under test that are written separately: the
// harness runs the rows that need them only when they are there.
import { binding as nativeBinding } from '@rxtls/native';

/** Whether TlsEngine can run handshake steps on the thread pool (`handshakeOffload`). */
export function hasHandshakeOffload(): boolean {
  const proto = (nativeBinding as unknown as { Session: { prototype: Record<string, unknown> } }).Session.prototype;
  return typeof proto['cycleAsync'] === 'function';
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
