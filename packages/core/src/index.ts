export * from './constants.js';
export * from './errors.js';
export { Pointer } from './pointer.js';
export {
  SSLContext,
  TLSContext,
  TLSClientContext,
  TLSServerContext,
  SSLv23Context,
  SSLv23ClientContext,
  SSLv23ServerContext,
  type CertSource,
} from './ssl-context.js';
export { TlsEngine, DEFAULT_HANDSHAKE_TIMEOUT, type TlsEngineOptions } from './engine.js';
export { connectTls, createTlsServer, clientContext, serverContext, type ClientOptions, type ServerOptions } from './connect.js';
export {
  createSelfSignedCertificate,
  createCertificateAuthority,
  issueCertificate,
  parseCertificate,
  type CertificateAndKey,
  type CertificateOptions,
} from './certificates.js';
export type { CertificateSummary, SessionInfo } from './native.js';
export { binding as nativeBinding } from './native.js';
