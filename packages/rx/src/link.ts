// The core connection under a TlsConnection, on either transport: a
// TlsEngine over a net.Socket ('js') or a NativeTlsConnection ('native').
// Both are a SecureConnection; what still differs between them is here.
import { TlsEngine, type NativeTlsConnection } from '@rxtls/core';

/** @internal What a TlsConnection runs on. */
export type Link = TlsEngine | NativeTlsConnection;

/** @internal The two ends of the TCP connection (read once: a closed socket no longer tells). */
export interface Endpoints {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
}

/** @internal */
export function endpointsOf(link: Link): Endpoints {
  // net.Socket and NativeTlsConnection name these alike.
  const s = link instanceof TlsEngine ? link.socket : link;
  return { remoteAddress: s.remoteAddress, remotePort: s.remotePort, localAddress: s.localAddress, localPort: s.localPort };
}

/** @internal The verify result of a session (SessionInfo has it). */
export interface VerifyOutcome {
  readonly verifyResult: number;
  readonly verifyMessage: string;
}

/**
 * @internal Calls `done` once what was written (and the close_notify of an
 * `end()`) left for the kernel; not if the link closes first (its `onclose`
 * tells that). Returns a canceller. The JS transport says so with the
 * socket's 'finish', the native one with `onfinish`.
 */
export function whenFlushed(link: Link, done: () => void): () => void {
  if (link instanceof TlsEngine) {
    const socket = link.socket;
    if (socket.destroyed) return noop;
    if (socket.writableFinished) {
      done();
      return noop;
    }
    socket.once('finish', done);
    return () => socket.off('finish', done);
  }
  if (link.closed) return noop;
  if (link.finished) {
    done();
    return noop;
  }
  // A writer and close() may both wait: the link's one onfinish slot calls every waiter.
  let waiting = finishWaiters.get(link);
  if (waiting === undefined) {
    const set = new Set<() => void>();
    finishWaiters.set(link, set);
    link.onfinish = () => {
      for (const fn of [...set]) fn();
      set.clear();
    };
    waiting = set;
  }
  waiting.add(done);
  return () => waiting.delete(done);
}

const finishWaiters = new WeakMap<Link, Set<() => void>>();

function noop(): void {}
