export * from './constants.js';
export * from './errors.js';
export { authorizationErrorOf, type AuthorizationFacts } from './authorization.js';
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
export { TLSSocket, TLS_SOCKET_HIGH_WATER_MARK, type SSLLike, type TLSSocketTransport } from './tls-socket.js';
export { checkPort, type SendMessage } from './socket-args.js';
export { TlsEngine, DEFAULT_HANDSHAKE_TIMEOUT, MAX_HELD_DURING_STEP, type TlsEngineOptions } from './engine.js';
export {
  connectTls,
  createTlsServer,
  clientContext,
  serverContext,
  type ClientOptions,
  type ServerOptions,
  type Transport,
} from './connect.js';
export {
  NativeTlsConnection,
  NativeTlsServer,
  type NativeListenOptions,
  type NativeTransportOptions,
} from './native-transport.js';
export type { SecureConnection } from './secure-connection.js';
export { TlsDuplex, type TlsDuplexOptions } from './duplex.js';
export { connectTlsDuplex, createTlsDuplexServer, secureDuplexes } from './duplex-connect.js';
export type { ContextOptions, TlsVersion } from './context-options.js';
export { generateTicketKeys } from './session-ticket.js';
export {
  TicketKeyRotation,
  deriveTicketKey,
  ticketKeyRing,
  ticketWindow,
  DEFAULT_TICKET_WINDOW_MS,
  MIN_TICKET_SECRET_LENGTH,
  type TicketRotationOptions,
  type TicketSecret,
} from './ticket-rotation.js';
export { parseProxyHeader, ProxyProtocolError, PROXY_V1_MAX_LENGTH, type ProxyHeader, type ProxyAddress } from './proxy-protocol.js';
export {
  DEFAULT_PROXY_HEADER_TIMEOUT,
  DEFAULT_PROXY_HEADER_MAX_LENGTH,
  type ProxyProtocolOptions,
} from './proxy-listener.js';
export type { FleetOptions } from './fleet-options.js';
export { encodeAlpn, TICKET_KEY_LENGTH, type SessionCacheOptions, type TicketRenewal } from './context-features.js';
export {
  createSelfSignedCertificate,
  createCertificateAuthority,
  issueCertificate,
  parseCertificate,
  type CertificateAndKey,
  type CertificateOptions,
} from './certificates.js';
export type { CertificateSummary, SessionInfo } from './native.js';
export {
  runWorkers,
  serveWorker,
  workerTicketSecret,
  TICKET_SECRET_ENV,
  type RunWorkersOptions,
  type ServeWorkerOptions,
  type WorkerFleet,
} from './cluster.js';
export { DEFAULT_SESSION_STORE_TIMEOUT, type SessionStore } from './session-store.js';
export { createRedisSessionStore, type RedisSessionClient, type RedisSessionStoreOptions } from './redis-session-store.js';
