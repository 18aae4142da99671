// Error classes of rxtls. The addon builds them through the factory installed
// in native.ts, so an error from OpenSSL and one from TypeScript look alike:
// a stable `code`, and OpenSSL's `reason`/`library` where it has one.

/**
 * Every error code rxtls produces, by key. Each error is a `TlsError` whose
 * `code` is one of these values and whose class is the one named per key;
 * match on `err.code === ErrorCode.CertVerify` (or `instanceof`), never on
 * messages. The values are stable across releases.
 *
 * @example
 * engine.onerror = (err) => {
 *   if (err.code === ErrorCode.CertVerify) console.log(err.verifyMessage);
 * };
 */
export const ErrorCode = {
  /** `'ERR_TLS_INVALID_ARGUMENT'` ({@link InvalidArgumentError}): an argument has the wrong type or range. Thrown at once, never from a connection. */
  InvalidArgument: 'ERR_TLS_INVALID_ARGUMENT',
  /** `'ERR_TLS_CLOSED'` ({@link ClosedError}): the object (context, SSL, BIO) was freed or closed. */
  Closed: 'ERR_TLS_CLOSED',
  /** `'ERR_TLS_STATE'` ({@link StateError}): the call does not fit the object's state (read before connect, accept on a client, write after end). */
  State: 'ERR_TLS_STATE',
  /** `'ERR_TLS_CONFIG'` ({@link ConfigError}): a context could not be configured (bad certificate, key, PKCS#12 bundle or passphrase, CA file, cipher, group or signature algorithm list). */
  Config: 'ERR_TLS_CONFIG',
  /** `'ERR_TLS_HANDSHAKE'` ({@link HandshakeError}): the handshake failed (protocol version, no shared cipher, an alert, not TLS at all, the peer left). */
  Handshake: 'ERR_TLS_HANDSHAKE',
  /**
   * `'ERR_TLS_CERT_VERIFY'` ({@link CertificateError}): the peer's certificate did not verify (untrusted,
   * expired, wrong host: see `verifyCode` and `verifyMessage`), or `checkServerIdentity` refused it (its Error is the `cause`).
   */
  CertVerify: 'ERR_TLS_CERT_VERIFY',
  /** `'ERR_TLS_PROTOCOL'` ({@link ProtocolError}): a record-layer failure after the handshake (bad MAC, unexpected message, alert). */
  Protocol: 'ERR_TLS_PROTOCOL',
  /** `'ERR_TLS_TRUNCATED'` ({@link TruncationError}): the transport ended without close_notify: the data may be incomplete. */
  Truncated: 'ERR_TLS_TRUNCATED',
  /** `'ERR_TLS_TIMEOUT'` ({@link TimeoutError}): a handshake, connect, send, receive or idle period took longer than allowed. */
  Timeout: 'ERR_TLS_TIMEOUT',
  /** `'ERR_TLS_CRYPTO'` ({@link CryptoError}): a key or certificate operation failed (generation, parsing, out of memory). */
  Crypto: 'ERR_TLS_CRYPTO',
  /** `'ERR_TLS_SOCKET'` ({@link SocketError}): the TCP transport failed (refused, reset, unreachable); the OS code is `syscallCode`, Node's error the `cause`. */
  Socket: 'ERR_TLS_SOCKET',
} as const;

/** One of the `ErrorCode` values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Extra facts an error may carry. */
export interface TlsErrorProps {
  /** OpenSSL's reason string, e.g. `certificate verify failed`. */
  reason?: string;
  /** OpenSSL's library name, e.g. `SSL routines`. */
  library?: string | null;
  /** OpenSSL's packed error code. */
  opensslCode?: number;
  /** Every entry of OpenSSL's error queue, earliest first. */
  opensslStack?: string[];
  /** X509_V_ERR_* of a failed certificate check. */
  verifyCode?: number;
  verifyMessage?: string;
  /** The OS error (`ECONNREFUSED`…) behind a socket error. */
  syscallCode?: string;
  cause?: unknown;
}

/** Base class of every rxtls error. */
export class TlsError extends Error {
  readonly code: ErrorCode;
  reason?: string;
  library?: string | null;
  opensslCode?: number;
  opensslStack?: string[];

  constructor(code: ErrorCode, message: string, props: TlsErrorProps = {}) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    this.code = code;
    const { cause: _cause, ...rest } = props;
    Object.assign(this, rest);
  }

  override get name(): string {
    return this.constructor.name;
  }
}

export class InvalidArgumentError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.InvalidArgument, message, props);
  }
}

export class ClosedError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.Closed, message, props);
  }
}

export class StateError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.State, message, props);
  }
}

export class ConfigError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.Config, message, props);
  }
}

export class HandshakeError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.Handshake, message, props);
  }
}

/** The peer's certificate failed verification (untrusted, expired, wrong host). */
export class CertificateError extends TlsError {
  declare verifyCode?: number;
  declare verifyMessage?: string;
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.CertVerify, message, props);
  }
}

export class ProtocolError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.Protocol, message, props);
  }
}

/** The transport closed without the peer's close_notify. */
export class TruncationError extends TlsError {
  constructor(message = 'connection closed without close_notify: the data may be truncated', props?: TlsErrorProps) {
    super(ErrorCode.Truncated, message, props);
  }
}

export class TimeoutError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.Timeout, message, props);
  }
}

export class CryptoError extends TlsError {
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.Crypto, message, props);
  }
}

export class SocketError extends TlsError {
  declare syscallCode?: string;
  constructor(message: string, props?: TlsErrorProps) {
    super(ErrorCode.Socket, message, props);
  }
}

const byCode: Record<ErrorCode, new (message: string, props?: TlsErrorProps) => TlsError> = {
  [ErrorCode.InvalidArgument]: InvalidArgumentError,
  [ErrorCode.Closed]: ClosedError,
  [ErrorCode.State]: StateError,
  [ErrorCode.Config]: ConfigError,
  [ErrorCode.Handshake]: HandshakeError,
  [ErrorCode.CertVerify]: CertificateError,
  [ErrorCode.Protocol]: ProtocolError,
  [ErrorCode.Truncated]: TruncationError,
  [ErrorCode.Timeout]: TimeoutError,
  [ErrorCode.Crypto]: CryptoError,
  [ErrorCode.Socket]: SocketError,
};

/**
 * Builds the error class for `code`; unknown codes become a plain TlsError.
 * `bare`: without a stack trace, for errors made in a libuv callback, where
 * the stack holds no frame of the user's (and capturing it costs more than
 * the rest of a failed connection's close).
 */
export function createError(code: string, message: string, props: TlsErrorProps = {}, bare = false): TlsError {
  const Class = byCode[code as ErrorCode];
  if (!bare) return Class ? new Class(message, props) : new TlsError(code as ErrorCode, message, props);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return Class ? new Class(message, props) : new TlsError(code as ErrorCode, message, props);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Wraps a Node socket error (ECONNREFUSED…) as a SocketError, keeping it as `cause`. */
export function socketError(err: NodeJS.ErrnoException): TlsError {
  if (err instanceof TlsError) return err;
  return new SocketError(err.message, { cause: err, ...(err.code ? { syscallCode: err.code } : {}) });
}
