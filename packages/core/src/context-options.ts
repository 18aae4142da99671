// The node:tls-named context options shared by connectTls and
// createTlsServer: protocol bounds, ciphers, groups, signature algorithms
// and a PKCS#12 bundle.
import { TLS1_2_VERSION, TLS1_3_VERSION } from './constants.js';
import { InvalidArgumentError } from './errors.js';
import { kNative } from './internal.js';
import { binding } from './native.js';
import type { SSLContext } from './ssl-context.js';

/** A protocol version by its node:tls name. TLS 1.0 and 1.1 are not offered. */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Context options with node:tls names. */
export interface ContextOptions {
  /** Lowest protocol version to accept. Default `'TLSv1.2'`. */
  minVersion?: TlsVersion;
  /** Highest protocol version to accept. Default `'TLSv1.3'`. */
  maxVersion?: TlsVersion;
  /**
   * Cipher list, colon separated, as `SSLContext.set_ciphers`: `TLS_…` names
   * set the TLS 1.3 suites, the rest the TLS 1.2 list (OpenSSL syntax).
   */
  ciphers?: string;
  /** Key exchange groups, colon separated (`'X25519:P-256'`); `'auto'` keeps the default. */
  ecdhCurve?: string;
  /** Signature algorithms, colon separated (`'ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256'`). */
  sigalgs?: string;
  /** A PKCS#12 (PFX) bundle: its key, certificate and extra certificates (sent as the chain). */
  pfx?: Uint8Array;
  /** Passphrase of `pfx` (or none when the bundle is not encrypted). */
  passphrase?: string;
}

const versions: Record<TlsVersion, number> = { 'TLSv1.2': TLS1_2_VERSION, 'TLSv1.3': TLS1_3_VERSION };

function version(name: 'minVersion' | 'maxVersion', value: unknown): number {
  if (value === undefined) return 0;
  const v = typeof value === 'string' ? versions[value as TlsVersion] : undefined;
  if (v === undefined) throw new InvalidArgumentError(`Expected "${name}" to be 'TLSv1.2' or 'TLSv1.3'`);
  return v;
}

/** Puts the `ContextOptions` that were given on `ctx`. */
export function applyContextOptions(ctx: SSLContext, o: ContextOptions): void {
  if (o.minVersion !== undefined || o.maxVersion !== undefined)
    ctx.set_protocol_versions(version('minVersion', o.minVersion), version('maxVersion', o.maxVersion));
  if (o.ciphers !== undefined) ctx.set_ciphers(o.ciphers);
  if (o.ecdhCurve !== undefined && o.ecdhCurve !== 'auto') binding.setGroups(ctx[kNative], o.ecdhCurve);
  if (o.sigalgs !== undefined) binding.setSigalgs(ctx[kNative], o.sigalgs);
  if (o.pfx !== undefined) {
    if (!(o.pfx instanceof Uint8Array)) throw new InvalidArgumentError('Expected "pfx" to be a Buffer or Uint8Array');
    binding.usePkcs12(ctx[kNative], o.pfx, o.passphrase);
  }
}
