// The core connection under a TlsConnection, on either transport: a
// TlsEngine over a net.Socket ('js') or a NativeTlsConnection ('native').
// Both are a SecureConnection; what still differs between them is here.
import { CertificateError, TlsEngine, type CertificateSummary, type NativeTlsConnection } from '@rxtls/core';

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
 * @internal Why the peer is not authorized, or null: core's rule (TlsEngine's
 * `authorizationError`), from facts read while the session was alive. Not
 * authorized: no certificate at all, or one that failed verification.
 */
export function authorizationErrorOf(peerCertificate: CertificateSummary | null, v: VerifyOutcome): CertificateError | null {
  if (peerCertificate === null) return new CertificateError('the peer sent no certificate');
  if (v.verifyResult === 0) return null;
  return new CertificateError(`certificate verification failed (${v.verifyMessage})`, { verifyCode: v.verifyResult, verifyMessage: v.verifyMessage });
}

// How often the native transport is asked whether its buffer emptied.
const FLUSH_POLL_MS = 5;

/**
 * @internal Calls `done` once what was written (and the close_notify of an
 * `end()`) left for the kernel; not if the link closes first (its `onclose`
 * tells that). Returns a canceller. The JS transport says so with the
 * socket's 'finish'. The native one has no such event (`ondrain` fires only
 * after a full write), so its buffer is looked at every few milliseconds
 * until it is empty: this runs once per connection, at its end, and mostly
 * finds it empty at once.
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
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    timer = undefined;
    if (link.closed) return;
    if (link.bufferedAmount === 0) done();
    else timer = setTimeout(check, FLUSH_POLL_MS).unref();
  };
  check();
  return () => clearTimeout(timer);
}

function noop(): void {}
