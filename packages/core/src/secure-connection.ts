// The surface both transports give a TLS connection: TlsEngine (the JS
// transport, over any net.Socket) and NativeTlsConnection (the native
// transport, the socket in C++). Code written against this type runs on either.
import type { TlsError } from './errors.js';
import type { CertificateSummary, SessionInfo } from './native.js';

export interface SecureConnection {
  /** The handshake completed. */
  onsecure: (() => void) | undefined;
  /** Decrypted plaintext, in order. The Buffer is the caller's to keep. */
  ondata: ((chunk: Buffer) => void) | undefined;
  /** The peer sent close_notify: its data is complete. */
  onend: (() => void) | undefined;
  /** A fatal error; `onclose` follows. */
  onerror: ((err: TlsError) => void) | undefined;
  /** The connection closed; `error` is set if it failed. */
  onclose: ((error: TlsError | undefined) => void) | undefined;
  /** The outgoing buffer emptied after `write` returned false: write more. */
  ondrain: (() => void) | undefined;
  /**
   * After `end()`: everything written, close_notify and the TCP FIN included,
   * was handed to the kernel (net.Socket's 'finish'). Not called when the
   * connection failed or was destroyed first; `onclose` comes either way.
   */
  onfinish: (() => void) | undefined;
  /** Client: a resumable session arrived; pass it as `session` to a later connection. */
  onsession: ((session: Buffer) => void) | undefined;

  /** Handshake done and not yet failed or closed. */
  readonly secure: boolean;
  /** The peer's close_notify arrived. */
  readonly peerEnded: boolean;
  /** The connection has closed (cleanly or not). */
  readonly closed: boolean;
  /** After `end()`: close_notify and the FIN were handed to the kernel (`onfinish` fired). */
  readonly finished: boolean;
  /** The error that ended the connection, if any. */
  readonly error: TlsError | undefined;
  /** Bytes written but not yet taken by the kernel: the backpressure signal. */
  readonly bufferedAmount: number;
  /** The ALPN protocol both sides agreed on, or null. */
  readonly alpnProtocol: string | null;
  /** The handshake resumed a session (a ticket or session ID); false before it completed. */
  readonly resumed: boolean;

  /** Encrypts and sends; false when the buffer is full (wait for `ondrain`). */
  write(data: Buffer | string): boolean;
  /** Several chunks in one native call. */
  writev(chunks: ReadonlyArray<Buffer | string>): boolean;
  /** close_notify after what was written, then the TCP end. Idempotent. */
  end(): void;
  /** Closes at once, without close_notify. */
  destroy(error?: TlsError): void;
  /** Stops reading (backpressure on the peer). */
  pause(): void;
  resume(): void;
  info(): SessionInfo;
  peerCertificate(): CertificateSummary | null;
  peerCertificateChain(verified?: boolean): CertificateSummary[];
  getSession(): Buffer | null;
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array | string): Buffer;
}
