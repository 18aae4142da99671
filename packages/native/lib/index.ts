export { binding, CycleFlag } from './native.js';
export type {
  Binding,
  CertificateSummary,
  GenerateCertificateOptions,
  NativeContext,
  NativeSession,
  SessionInfo,
  SessionOptions,
  SessionOut,
} from './native.js';
export { candidatePaths } from './binding.js';
