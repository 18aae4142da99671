export { binding, CycleFlag, WaitFor } from './native.js';
export type {
  Binding,
  CertificateSummary,
  GenerateCertificateOptions,
  FdSslInfo,
  NativeBio,
  NativeContext,
  NativeFdSsl,
  NativeSession,
  SessionInfo,
  SessionOptions,
  SessionOut,
  NativeTcpConnection,
  NativeTcpServer,
  TransportAddress,
  TransportCallbacks,
  TransportConnectOptions,
  TransportSettings,
  ListenSettings,
  NativeProxySettings,
  StoreSession,
} from './native.js';
export { candidatePaths } from './binding.js';
