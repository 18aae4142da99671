// Error classes of rxtls. The addon builds them through the factory installed
// in native.ts, so an error from OpenSSL and one from TypeScript look alike:
// a stable `code`, and OpenSSL's `reason`/`library` where it has one.

/** Every error code rxtls produces. Stable: match on these, not on messages. */
export const ErrorCode = {
  /** An argument has the wrong type or range. */
  InvalidArgument: 'ERR_TLS_INVALID_ARGUMENT',
  /** The object was freed or closed. */
  Closed: 'ERR_TLS_CLOSED',
  /** The call does not fit the object's state (read before connect, accept on a client). */
  State: 'ERR_TLS_STATE',
  /** A context could not be configured (bad certificate, key, CA file, cipher list). */
  Config: 'ERR_TLS_CONFIG',
  /** The handshake failed (protocol version, no shared cipher, alert, not TLS at all). */
  Handshake: 'ERR_TLS_HANDSHAKE',
  /** The peer's certificate did not verify; see `verifyCode` and `verifyMessage`. */
  CertVerify: 'ERR_TLS_CERT_VERIFY',
  /** A record-layer failure after the handshake (bad MAC, unexpected message, alert). */
  Protocol: 'ERR_TLS_PROTOCOL',
  /** The transport ended without close_notify: the data may be incomplete. */
  Truncated: 'ERR_TLS_TRUNCATED',
  /** A handshake, connect, send or receive took longer than allowed. */
  Timeout: 'ERR_TLS_TIMEOUT',
  /** A key or certificate operation failed. */
  Crypto: 'ERR_TLS_CRYPTO',
  /** The TCP transport failed (refused, reset, unreachable). */
  Socket: 'ERR_TLS_SOCKET',
} as const;

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

/** Builds the error class for `code`; unknown codes become a plain TlsError. */
export function createError(code: string, message: string, props: TlsErrorProps = {}): TlsError {
  const Class = byCode[code as ErrorCode];
  return Class ? new Class(message, props) : new TlsError(code as ErrorCode, message, props);
}

/** Wraps a Node socket error (ECONNREFUSED…) as a SocketError, keeping it as `cause`. */
export function socketError(err: NodeJS.ErrnoException): TlsError {
  if (err instanceof TlsError) return err;
  return new SocketError(err.message, { cause: err, ...(err.code ? { syscallCode: err.code } : {}) });
}
