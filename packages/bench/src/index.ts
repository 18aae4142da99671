/**
 * The rxtls load generator as a library: {@link runLoad} drives a TLS server
 * with rxtls client connections and resolves with what it measured. The
 * `rxtls-bench` command is built on it.
 *
 * @packageDocumentation
 */
export {
  runLoad,
  checkOptions,
  DEFAULTS,
  LIMITS,
  LOAD_MODES,
  type LoadMode,
  type LoadOptions,
  type LoadEvent,
  type LoadResult,
} from './run-load.js';
export { Latency, type LatencySummary } from './latency.js';
export { sessionSupport, type SessionSupport } from './session-support.js';
export { isLoopback, parseHostPort, resolveTarget, type Target } from './target.js';
export { StatusLine } from './status-line.js';
export { resultTable } from './report.js';
export { parseCommandLine, numberValue, parseSize, UsageError } from './values.js';
