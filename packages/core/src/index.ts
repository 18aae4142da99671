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
export { SSL } from './ssl.js';
export { BIO, SSLBIO, ConnectBIO, AcceptedBIO } from './bio.js';
export { Socket, type SocketInfo } from './socket.js';
export { TLSSocket, TLS_SOCKET_HIGH_WATER_MARK, type SSLLike } from './tls-socket.js';
export type { SendMessage } from './socket-args.js';
export { TlsEngine, DEFAULT_HANDSHAKE_TIMEOUT, type TlsEngineOptions } from './engine.js';
export { connectTls, createTlsServer, clientContext, serverContext, type ClientOptions, type ServerOptions } from './connect.js';
export { TlsDuplex, connectTlsDuplex, secureDuplexes, type TlsDuplexOptions } from './duplex.js';
export type { ContextOptions, TlsVersion } from './context-options.js';
export { generateTicketKeys } from './session-ticket.js';
export { encodeAlpn, TICKET_KEY_LENGTH, type SessionCacheOptions } from './context-features.js';
export {
  createSelfSignedCertificate,
  createCertificateAuthority,
  issueCertificate,
  parseCertificate,
  type CertificateAndKey,
  type CertificateOptions,
} from './certificates.js';
export type { CertificateSummary, SessionInfo } from './native.js';
