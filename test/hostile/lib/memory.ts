// Two native sessions over memory (no sockets): contexts, a side per session,
// and a pump that moves ciphertext both ways. Shared by the fuzz and leak tests.
import { binding, CycleFlag, type NativeContext, type NativeSession, type SessionOut } from '@rxtls/native';
import '@rxtls/core'; // installs the error factory: native errors become TlsError classes

import { pki } from '../../helpers/pki.js';

const { TLS_client_method, TLS_server_method } = binding.methods;

/** A server context with the pki() server certificate; `maxVersion` caps the protocol (0x0303 = TLS 1.2). */
export function serverContext(maxVersion = 0): NativeContext {
  const ctx = new binding.Context(TLS_server_method);
  ctx.useCertificateChain(pki().server.cert, false, 1);
  ctx.usePrivateKey(pki().server.key, false, 1);
  if (maxVersion) ctx.setProtocolVersions(0, maxVersion);
  return ctx;
}

/** A client context that trusts the pki() CA (and verifies by default). */
export function clientContext(maxVersion = 0): NativeContext {
  const ctx = new binding.Context(TLS_client_method);
  ctx.addCACertificates(pki().ca.cert);
  if (maxVersion) ctx.setProtocolVersions(0, maxVersion);
  return ctx;
}

export interface Side {
  session: NativeSession;
  out: SessionOut;
  /** Plaintext received, in order. */
  clear: Buffer[];
  secure: boolean;
  peerClosed: boolean;
  error: Error | undefined;
}

export function side(ctx: NativeContext, isServer: boolean): Side {
  const out: SessionOut = [undefined, undefined, undefined];
  const session = new binding.Session(ctx, isServer, out, isServer ? {} : { servername: 'localhost', verifyHost: 'localhost' });
  return { session, out, clear: [], secure: false, peerClosed: false, error: undefined };
}

/** Applies one result of cycle/write/shutdown; returns ciphertext for the peer. */
export function take(s: Side, flags: number): Buffer | undefined {
  if (flags & CycleFlag.Secure) s.secure = true;
  if (flags & CycleFlag.ClearOut) {
    s.clear.push(s.out[0]!);
    s.out[0] = undefined;
  }
  if (flags & CycleFlag.PeerClosed) s.peerClosed = true;
  if (flags & CycleFlag.Error) {
    s.error = s.out[2];
    s.out[2] = undefined;
  }
  if (flags & CycleFlag.EncOut) {
    const enc = s.out[1];
    s.out[1] = undefined;
    return enc;
  }
  return undefined;
}

/**
 * Moves ciphertext both ways until neither side has anything to send; `first`
 * is a's output (default: whatever a's cycle() produces). `record`, when given,
 * receives every flight with its direction.
 */
export function pump(a: Side, b: Side, first?: Buffer, record?: (from: 'a' | 'b', enc: Buffer) => void): void {
  let toB = first ?? take(a, a.session.cycle());
  let toA: Buffer | undefined;
  for (let i = 0; i < 100 && (toA || toB); i++) {
    // A side that failed takes no more input; its alert has already been passed on.
    if (b.error) toB = undefined;
    if (a.error) toA = undefined;
    if (toB) {
      record?.('a', toB);
      toA = take(b, b.session.cycle(toB));
      toB = undefined;
    }
    if (toA) {
      record?.('b', toA);
      toB = take(a, a.session.cycle(toA));
      toA = undefined;
    }
  }
}
