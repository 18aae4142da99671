// The one place core touches the addon: it installs the error factory so
// every native error is one of the classes in errors.ts.
import { binding } from '@rxtls/native';

import { createError } from './errors.js';

binding.setErrorFactory(createError);

export { binding };
export { CycleFlag } from '@rxtls/native';
export type {
  CertificateSummary,
  NativeContext,
  NativeSession,
  NativeTcpConnection,
  NativeTcpServer,
  SessionInfo,
  SessionOptions,
  SessionOut,
  TransportAddress,
  TransportAdoptOptions,
  TransportConnectOptions,
  TransportSettings,
  ListenSettings,
  NativeProxySettings,
} from '@rxtls/native';
