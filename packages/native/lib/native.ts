// The addon's surface, typed once. Nothing outside this package sees an
// untyped native value.
import { loadBinding } from './binding.js';

/** Bits of the number `Session.cycle`, `write` and `shutdown` return. */
export const CycleFlag = {
  /** The handshake completed during this call. */
  Secure: 1,
  /** `out[0]` holds decrypted plaintext. */
  ClearOut: 2,
  /** `out[1]` holds ciphertext to send to the peer. */
  EncOut: 4,
  /** The peer's close_notify arrived (a clean end of its data). */
  PeerClosed: 8,
  /** `out[2]` holds the fatal error; the session accepts no more input. */
  Error: 16,
} as const;

/** The array a session writes its results into: plaintext, ciphertext, error. */
export type SessionOut = [clear: Buffer | undefined, enc: Buffer | undefined, error: Error | undefined];

/** A certificate as sessions and `parseCertificate` report it. */
export interface CertificateSummary {
  /** Subject attributes by short name (`CN`, `O`, …). */
  subject: Record<string, string>;
  issuer: Record<string, string>;
  /** RFC 2253 form, e.g. `CN=localhost`. */
  subjectName: string;
  issuerName: string;
  /** `DNS:name`, `IP:addr`, `email:…`, `URI:…`. */
  subjectAltNames: string[];
  /** ISO 8601, UTC. */
  validFrom: string;
  validTo: string;
  /** Upper-case hex. */
  serialNumber: string;
  /** SHA-256 of the DER, `AB:CD:…`. */
  fingerprint256: string;
  /** The certificate, DER encoded. */
  raw: Buffer;
}

export interface SessionInfo {
  isServer: boolean;
  handshakeComplete: boolean;
  /** `TLSv1.3`, `TLSv1.2`; null before the handshake. */
  protocol: string | null;
  /** OpenSSL's cipher name, e.g. `TLS_AES_256_GCM_SHA384`. */
  cipher: string | null;
  cipherStandardName: string | null;
  /** X509_V_OK (0) or the X509_V_ERR_* code of the peer's certificate. */
  verifyResult: number;
  verifyMessage: string;
  servername: string | null;
  resumed: boolean;
  /** The key exchange group, e.g. `x25519`. */
  group: string | null;
  sentShutdown: boolean;
  receivedShutdown: boolean;
}

export interface SessionOptions {
  /** SNI to send (clients). Ignored for IP literals. */
  servername?: string;
  /** Host name or IP address the server's certificate must match (clients). */
  verifyHost?: string;
  /** Overrides the verify mode. Default: a client verifies the server unless `setVerify` was called on the context. */
  verifyPeer?: boolean;
}

/** One SSL over a pair of memory BIOs. */
export interface NativeSession {
  /**
   * Feeds ciphertext that arrived (optional), advances the handshake and
   * decrypts every complete record. Results land in the session's `out` array.
   * @returns CycleFlag bits.
   */
  cycle(chunk?: Uint8Array | null, length?: number): number;
  /** Encrypts plaintext; the ciphertext lands in `out[1]`. Throws before the handshake completes. */
  write(data: Uint8Array | string | ReadonlyArray<Uint8Array | string>): number;
  /** Queues close_notify in `out[1]`; no-op before the handshake completes. */
  shutdown(): number;
  info(): SessionInfo;
  peerCertificate(): CertificateSummary | null;
  free(): void;
  isFreed(): boolean;
  pointer(): bigint;
}

export interface NativeContext {
  /** SSL_CTX_set_verify with the documented SSL_VERIFY_* flags. */
  setVerify(mode: number): void;
  getVerifyMode(): number;
  loadVerifyLocations(file: string | null, directory?: string | null): void;
  setDefaultVerifyPaths(): void;
  /** Adds every certificate of a PEM bundle to the trust store; returns how many. */
  addCACertificates(pem: string | Uint8Array): number;
  /** A certificate (and, for PEM, its chain) from a path (`isFile`) or from memory. */
  useCertificateChain(source: string | Uint8Array, isFile: boolean, fileType: number): void;
  /** A private key from a path or memory; checked against the certificate. */
  usePrivateKey(source: string | Uint8Array, isFile: boolean, fileType: number): void;
  setCipherList(ciphers: string): void;
  setCiphersuites(ciphersuites: string): void;
  /** TLS1_2_VERSION = 0x0303, TLS1_3_VERSION = 0x0304; 0 leaves the bound open. */
  setProtocolVersions(min: number, max: number): void;
  getProtocolVersions(): [min: number, max: number];
  free(): void;
  isFreed(): boolean;
  pointer(): bigint;
}

export interface GenerateCertificateOptions {
  /** Default `localhost`. */
  commonName?: string;
  /** DNS names and IP addresses for subjectAltName. */
  altNames?: string[];
  /** Default `ec` (P-256). */
  keyType?: 'ec' | 'rsa';
  /** Default 2048. */
  rsaBits?: number;
  isCA?: boolean;
  /** Start of validity relative to now. Default -3600. */
  notBeforeOffsetSeconds?: number;
  /** Length of validity. Default one year. */
  validSeconds?: number;
  /** Sign with this CA instead of self-signing. */
  issuerCert?: string;
  issuerKey?: string;
}

export interface Binding {
  Context: new (method: bigint) => NativeContext;
  Session: new (context: NativeContext, isServer: boolean, out: SessionOut, options?: SessionOptions) => NativeSession;
  /** Addresses of TLS_method(), TLS_client_method(), TLS_server_method(). */
  methods: { TLS_method: bigint; TLS_client_method: bigint; TLS_server_method: bigint };
  /** Installs the factory the addon uses for every error it throws. */
  setErrorFactory(factory: (code: string, message: string, props: Record<string, unknown>) => Error): void;
  generateCertificate(options?: GenerateCertificateOptions): { cert: string; key: string };
  parseCertificate(certificate: string | Uint8Array): CertificateSummary;
  /** The OpenSSL version string the addon runs on (equals process.versions.openssl). */
  opensslVersion: string;
}

/** The loaded addon. */
export const binding = loadBinding() as Binding;
