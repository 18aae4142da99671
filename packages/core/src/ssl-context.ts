import { fstatSync, readSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { inspect } from 'node:util';

import {
  SSL_FILETYPE_ASN1,
  SSL_FILETYPE_PEM,
  SSLv23_client_method,
  SSLv23_method,
  SSLv23_server_method,
  TLS_client_method,
  TLS_method,
  TLS_server_method,
} from './constants.js';
import { ClosedError, ConfigError, InvalidArgumentError } from './errors.js';
import { kNative } from './internal.js';
import { binding, type NativeContext } from './native.js';
import { Pointer } from './pointer.js';
import * as features from './context-features.js';
import { isFileHandle } from './socket-args.js';

/** A certificate or key given as a path, an open file, or (extension) PEM/DER in memory. */
export type CertSource = string | Buffer | Uint8Array | FileHandle;

const looksLikePem = (v: string | Uint8Array): boolean =>
  (typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, Math.min(v.byteLength, 4096)).toString('latin1')).includes('-----BEGIN ');

/**
 * The whole content of an open file, read by position from its start: a
 * FileHandle that was already read from (or is read by someone else) still
 * gives all of its certificate.
 */
function readWholeFile(fd: number): Buffer {
  if (fd < 0) throw new InvalidArgumentError('Expected an open file: this FileHandle is closed');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (err) {
    throw new ConfigError(`could not read the open file: ${(err as Error).message}`, { cause: err });
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, out, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return out.subarray(0, off);
}

/**
 * SSL context: the configuration shared by every connection made from it
 * (an OpenSSL `SSL_CTX`).
 *
 * Defaults: TLS 1.2 is the floor, renegotiation is refused, only
 * forward-secret AEAD ciphers are offered. A client made from a context on
 * which `set_verify` was never called verifies the server's certificate and
 * host name against the system store plus `set_verify_locations`; a server
 * asks for no client certificate.
 *
 * @example
 * const ctx = new SSLContext(TLS_server_method);
 * ctx.load_certs('cert.pem', 'key.pem');
 */
export class SSLContext {
  #native: NativeContext | undefined;
  readonly #method: Pointer;

  /**
   * @param method A method handle: `TLS_method`, `TLS_client_method`, `TLS_server_method` or an `SSLv23_*` alias.
   * @throws InvalidArgumentError when `method` is not a valid SSL method handle.
   */
  constructor(method: Pointer) {
    if (!(method instanceof Pointer) || method.kind !== 'SSL_METHOD')
      throw new InvalidArgumentError('Expected "method" to be a valid SSL method pointer (TLS_method, TLS_client_method, TLS_server_method)');
    this.#method = method;
    this.#native = new binding.Context(method.address);
    // The system store is the default trust; a missing store is no error
    // (set_verify_locations may provide the CAs).
    try {
      this.#native.setDefaultVerifyPaths();
    } catch {
      /* no default store on this machine */
    }
  }

  /** @internal The live native context; throws once freed. */
  get [kNative](): NativeContext {
    if (!this.#native) throw new ClosedError('SSLContext has been freed');
    return this.#native;
  }

  /** True after `free()`. Extension. */
  get is_freed(): boolean {
    return this.#native === undefined;
  }

  /** The method this context was made with (a `TLS_*` handle). Extension. */
  get method(): Pointer {
    return this.#method;
  }

  /**
   * Sets the verification flags (`SSL_VERIFY_*`, or'ed). With `SSL_VERIFY_NONE`
   * no other flag may be set. After this call sessions use exactly this mode,
   * also clients (which otherwise verify by default).
   * @throws InvalidArgumentError for unknown flags or modifiers without SSL_VERIFY_PEER.
   */
  set_verify(mode: number): void {
    this[kNative].setVerify(mode);
  }

  /**
   * Adds trusted CA certificates from a PEM file or a hashed CA directory.
   * Extension: PEM text (a string containing `-----BEGIN`) or a Buffer is added directly.
   * @returns true
   * @throws ConfigError with OpenSSL's reason when nothing could be loaded.
   */
  set_verify_locations(locations: string | Buffer | Uint8Array): boolean {
    const native = this[kNative];
    if (typeof locations !== 'string' && !(locations instanceof Uint8Array))
      throw new InvalidArgumentError('Expected "locations" to be a path or PEM text');
    if (typeof locations !== 'string' || looksLikePem(locations)) {
      native.addCACertificates(locations);
      return true;
    }
    let isDir = false;
    try {
      isDir = statSync(locations).isDirectory();
    } catch {
      /* let OpenSSL report the missing file with its reason */
    }
    if (isDir) native.loadVerifyLocations(null, locations);
    else native.loadVerifyLocations(locations, null);
    return true;
  }

  /**
   * Loads the certificate (with its chain, for PEM) and the private key, and
   * checks that they match.
   *
   * Each may be a path, an open file (`fs.promises.FileHandle`, read from its
   * descriptor), or (extension) PEM text or DER bytes in memory.
   *
   * @param filetype Extension: `SSL_FILETYPE_PEM` (default) or `SSL_FILETYPE_ASN1` for DER.
   * @returns true
   * @throws ConfigError with OpenSSL's reason when either cannot be used.
   */
  load_certs(cert_file: CertSource, private_key_file: CertSource, filetype: number = SSL_FILETYPE_PEM): boolean {
    if (filetype !== SSL_FILETYPE_PEM && filetype !== SSL_FILETYPE_ASN1)
      throw new InvalidArgumentError('Expected "filetype" to be SSL_FILETYPE_PEM or SSL_FILETYPE_ASN1');
    const native = this[kNative];
    const use = (source: CertSource, name: string, load: (s: string | Uint8Array, isFile: boolean, type: number) => void) => {
      if (isFileHandle(source)) {
        const content = readWholeFile(source.fd);
        load(content, false, looksLikePem(content) ? SSL_FILETYPE_PEM : filetype === SSL_FILETYPE_PEM ? SSL_FILETYPE_ASN1 : filetype);
      } else if (typeof source === 'string') {
        const pem = looksLikePem(source);
        load(source, !pem, pem ? SSL_FILETYPE_PEM : filetype);
      } else if (source instanceof Uint8Array) {
        load(source, false, looksLikePem(source) ? SSL_FILETYPE_PEM : filetype === SSL_FILETYPE_PEM ? SSL_FILETYPE_ASN1 : filetype);
      } else {
        throw new InvalidArgumentError(`Expected "${name}" to be a path, a FileHandle, PEM text or a Buffer`);
      }
    };
    use(cert_file, 'cert_file', (s, f, t) => native.useCertificateChain(s, f, t));
    use(private_key_file, 'private_key_file', (s, f, t) => native.usePrivateKey(s, f, t));
    return true;
  }

  /**
   * Sets the allowed ciphers, colon separated. Names of TLS 1.3 suites
   * (`TLS_AES_128_GCM_SHA256`, …) set the TLS 1.3 suites; the others the
   * TLS 1.2 cipher list, in OpenSSL's cipher-string syntax.
   * @returns true
   * @throws ConfigError when OpenSSL accepts none of them.
   */
  set_ciphers(ciphers: string): boolean {
    const native = this[kNative];
    if (typeof ciphers !== 'string' || ciphers.length === 0)
      throw new InvalidArgumentError('Expected "ciphers" to be a non-empty string');
    const parts = ciphers.split(':').filter(Boolean);
    const tls13 = parts.filter((p) => p.startsWith('TLS_'));
    const tls12 = parts.filter((p) => !p.startsWith('TLS_'));
    if (tls13.length > 0) native.setCiphersuites(tls13.join(':'));
    if (tls12.length > 0) native.setCipherList(tls12.join(':'));
    return true;
  }

  /**
   * Extension: bounds the protocol versions (`TLS1_2_VERSION`, `TLS1_3_VERSION`; 0 leaves a bound open).
   * Versions below TLS 1.2 are refused.
   */
  set_protocol_versions(min: number, max = 0): void {
    this[kNative].setProtocolVersions(min, max);
  }

  /** Frees the context. Connections already made from it keep working. */
  free(): void {
    if (!this.#native) throw new ClosedError('SSLContext has already been freed');
    this.#native.free();
    this.#native = undefined;
  }

  /** The raw `SSL_CTX` pointer, as an opaque handle. */
  get_pointer(): Pointer {
    return new Pointer('SSL_CTX', this[kNative].pointer());
  }

  [inspect.custom](): string {
    return `<${this.constructor.name}${this.#native ? '' : ' freed'}>`;
  }

  // --- TLS feature extensions (context-features.ts) ---

  /**
   * Extension: ALPN protocols, most preferred first (`['h2', 'http/1.1']`).
   * A client offers them; a server picks the first of its own the client
   * also offers. `null` or `[]` turns ALPN off.
   * @param reject_unknown Server: refuse (alert `no_application_protocol`) a
   *   client that offers ALPN but nothing in common. Default true.
   * @example ctx.set_alpn_protocols(['h2', 'http/1.1']);
   */
  set_alpn_protocols(protocols: ReadonlyArray<string> | null, reject_unknown = true): void {
    features.setAlpnProtocols(this, protocols, reject_unknown);
  }

  /**
   * Extension (servers, SNI): connections that ask for `servername` continue
   * on `context` (its certificate, key, verify mode, ALPN). `*.example.com`
   * matches one label. `null` removes the entry. Ticket keys and the session
   * cache stay this context's.
   * @example ctx.set_servername_context('api.example.com', apiCtx);
   */
  set_servername_context(servername: string, context: SSLContext | null): void {
    features.setServernameContext(this, servername, context);
  }

  /**
   * Extension (servers, SNI): called during the handshake with the server
   * name a client asked for (when `set_servername_context` has no entry);
   * returns the SSLContext to continue on, or undefined for this one. It
   * runs synchronously; if it throws, the handshake fails with its error as
   * `cause`. `null` removes it.
   */
  set_servername_callback(callback: ((servername: string) => SSLContext | undefined | null) | null): void {
    features.setServernameCallback(this, callback);
  }

  /**
   * Extension: receives the key material of every connection made from this
   * context as NSS key log lines (`CLIENT_RANDOM …`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET …`),
   * without the newline, the format Wireshark reads. The `SSLKEYLOGFILE`
   * environment variable, when set as a context is made, appends the same lines there.
   * `null` removes it. Keep it off in production: anyone with the lines can decrypt the traffic.
   */
  set_keylog_callback(callback: ((line: string) => void) | null): void {
    features.setKeylogCallback(this, callback);
  }

  /**
   * Extension (servers): session ticket keys, `n × 80` bytes (see
   * `generateTicketKeys`). The first seals new tickets; every one opens
   * them. Servers that share the keys resume each other's sessions.
   */
  set_ticket_keys(keys: Uint8Array): void {
    this[kNative].setTicketKeys(keys);
  }

  /** Extension: the keys given to `set_ticket_keys`, or null while OpenSSL's own random keys are used. */
  get_ticket_keys(): Buffer | null {
    return this[kNative].getTicketKeys();
  }

  /** Extension: session tickets on/off, server cache size, session lifetime. */
  set_session_options(options: features.SessionCacheOptions): void {
    features.setSessionOptions(this, options);
  }
}

/** Generic TLS context, for clients and servers. */
export class TLSContext extends SSLContext {
  constructor() {
    super(TLS_method);
  }
}

/** TLS context for clients. */
export class TLSClientContext extends SSLContext {
  constructor() {
    super(TLS_client_method);
  }
}

/** TLS context for servers. */
export class TLSServerContext extends SSLContext {
  constructor() {
    super(TLS_server_method);
  }
}

/** SSLv23 context (OpenSSL 3: the same as TLSContext). */
export class SSLv23Context extends SSLContext {
  constructor() {
    super(SSLv23_method);
  }
}

/** SSLv23 client context (OpenSSL 3: the same as TLSClientContext). */
export class SSLv23ClientContext extends SSLContext {
  constructor() {
    super(SSLv23_client_method);
  }
}

/** SSLv23 server context (OpenSSL 3: the same as TLSServerContext). */
export class SSLv23ServerContext extends SSLContext {
  constructor() {
    super(SSLv23_server_method);
  }
}
