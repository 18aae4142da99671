// Keys and certificates made in memory, so examples, tests and the demo need
// no files and no openssl CLI.
import { InvalidArgumentError } from './errors.js';
import { binding, type CertificateSummary } from './native.js';

/** A certificate and its private key, both PEM. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

export interface CertificateOptions {
  /** Subject CN. Default `localhost`. */
  commonName?: string;
  /** DNS names and IP addresses. Default `localhost`, `127.0.0.1`, `::1`. */
  altNames?: string[];
  /** `ec` (P-256, default) or `rsa`. */
  keyType?: 'ec' | 'rsa';
  /** RSA modulus size. Default 2048. */
  rsaBits?: number;
  /** Days of validity from `notBefore`. Default 365. */
  validDays?: number;
  /** Start of validity. Default one hour ago. A past window makes an expired certificate. */
  notBefore?: Date;
}

const DEFAULT_ALT_NAMES = ['localhost', '127.0.0.1', '::1'];

function nativeOptions(o: CertificateOptions) {
  const notBefore = o.notBefore ?? new Date(Date.now() - 3600_000);
  return {
    commonName: o.commonName ?? 'localhost',
    altNames: o.altNames ?? DEFAULT_ALT_NAMES,
    keyType: o.keyType ?? 'ec',
    ...(o.rsaBits !== undefined ? { rsaBits: o.rsaBits } : {}),
    notBeforeOffsetSeconds: Math.round((notBefore.getTime() - Date.now()) / 1000),
    validSeconds: Math.round((o.validDays ?? 365) * 86400),
  };
}

/**
 * A self-signed certificate for a server (or client).
 * @example
 * const { cert, key } = createSelfSignedCertificate({ altNames: ['localhost'] });
 */
export function createSelfSignedCertificate(options: CertificateOptions = {}): CertificateAndKey {
  return binding.generateCertificate(nativeOptions(options));
}

/** A certificate authority that `issueCertificate` signs with. */
export function createCertificateAuthority(options: Omit<CertificateOptions, 'altNames'> = {}): CertificateAndKey {
  return binding.generateCertificate({ ...nativeOptions({ commonName: 'rxtls test CA', ...options }), altNames: [], isCA: true });
}

/** A leaf certificate signed by `ca`, valid for server and client authentication. */
export function issueCertificate(ca: CertificateAndKey, options: CertificateOptions = {}): CertificateAndKey {
  // Without both, the addon would self-sign: a silent wrong answer.
  if (typeof ca !== 'object' || ca === null || typeof ca.cert !== 'string' || typeof ca.key !== 'string')
    throw new InvalidArgumentError('Expected "ca" to be { cert, key } PEM strings, as createCertificateAuthority returns');
  return binding.generateCertificate({ ...nativeOptions(options), issuerCert: ca.cert, issuerKey: ca.key });
}

/** Reads a PEM or DER certificate into the summary sessions report. */
export function parseCertificate(certificate: string | Uint8Array): CertificateSummary {
  return binding.parseCertificate(certificate);
}
