// Whether a connection's peer is authorized: it sent a certificate and that
// certificate verified. Read by TlsEngine (and through it the rx connection),
// by TlsDuplex on either transport, mostly by servers in the requestCert: 'unverified' mode,
// where the handshake completes either way and the application decides.
import { CertificateError } from './errors.js';
import type { CertificateSummary, SessionInfo } from './native.js';

/** What the rule reads: a live session or connection, or facts kept from one. */
export interface AuthorizationFacts {
  info(): Pick<SessionInfo, 'verifyResult' | 'verifyMessage'>;
  peerCertificate(): CertificateSummary | null;
}

/**
 * Why the peer of `session` is not authorized, or null when it is: a
 * CertificateError whose `verifyCode` / `verifyMessage` are OpenSSL's
 * X509_V_ERR_* result (e.g. 18, "self-signed certificate"), or, when the
 * peer sent no certificate at all, one without `verifyCode`.
 */
export function authorizationErrorOf(session: AuthorizationFacts): CertificateError | null {
  const { verifyResult, verifyMessage } = session.info();
  // OpenSSL reports X509_V_OK when no certificate came: check that one did.
  if (session.peerCertificate() === null) return new CertificateError('the peer sent no certificate');
  if (verifyResult === 0) return null;
  return new CertificateError(`certificate verification failed (${verifyMessage})`, { verifyCode: verifyResult, verifyMessage });
}
