// The TLS features a context can carry (ALPN, SNI, keylog, resumption),
// behind SSLContext's extension methods and the server/client options.
// The addon holds JS callbacks weakly; this module keeps them alive for as
// long as their SSLContext lives, so a dropped context is still collected.
import { InvalidArgumentError } from './errors.js';
import { kNative } from './internal.js';
import { binding, type NativeContext } from './native.js';

/** What the extension methods need of an SSLContext (avoids an import cycle). */
interface HasNative {
  readonly [kNative]: NativeContext;
}

interface Retained {
  servername?: (name: string) => NativeContext | undefined;
  keylog?: (line: string) => void;
}

const retained = new WeakMap<object, Retained>();

function retain(ctx: object): Retained {
  let r = retained.get(ctx);
  if (!r) retained.set(ctx, (r = {}));
  return r;
}

/**
 * Encodes ALPN protocol names in wire format (each prefixed by its length).
 * @throws InvalidArgumentError for an empty list, an empty name or one over 255 bytes.
 */
export function encodeAlpn(protocols: ReadonlyArray<string> | Uint8Array): Buffer {
  if (protocols instanceof Uint8Array) return Buffer.from(protocols.buffer, protocols.byteOffset, protocols.byteLength);
  if (!Array.isArray(protocols)) throw new InvalidArgumentError('Expected "protocols" to be an array of strings');
  const parts: Buffer[] = [];
  for (const p of protocols) {
    const b = typeof p === 'string' ? Buffer.from(p, 'latin1') : undefined;
    if (!b || b.length === 0 || b.length > 255)
      throw new InvalidArgumentError('Expected "protocols" to hold protocol names of 1 to 255 bytes');
    parts.push(Buffer.from([b.length]), b);
  }
  return Buffer.concat(parts);
}

export function setAlpnProtocols(ctx: HasNative, protocols: ReadonlyArray<string> | null, rejectUnknown: boolean): void {
  if (typeof rejectUnknown !== 'boolean') throw new InvalidArgumentError('Expected "reject_unknown" to be a boolean');
  ctx[kNative].setAlpnProtocols(protocols === null || protocols.length === 0 ? Buffer.alloc(0) : encodeAlpn(protocols), rejectUnknown);
}

export function setServernameContext(ctx: HasNative, servername: string, target: HasNative | null): void {
  if (target !== null && (typeof target !== 'object' || !(kNative in target)))
    throw new InvalidArgumentError('Expected "context" to be an SSLContext or null');
  ctx[kNative].addServerNameContext(servername, target === null ? null : target[kNative]);
}

export function setServernameCallback(ctx: HasNative, callback: ((servername: string) => HasNative | undefined | null) | null): void {
  if (callback !== null && typeof callback !== 'function')
    throw new InvalidArgumentError('Expected "callback" to be a function or null');
  const native = ctx[kNative];
  const wrapper = callback
    ? (name: string): NativeContext | undefined => {
        const chosen = callback(name);
        if (chosen === undefined || chosen === null) return undefined;
        if (typeof chosen !== 'object' || !(kNative in chosen))
          throw new InvalidArgumentError('The servername callback must return an SSLContext or undefined');
        return chosen[kNative];
      }
    : null;
  native.setServernameCallback(wrapper);
  if (wrapper) retain(ctx).servername = wrapper;
  else delete retain(ctx).servername;
}

export function setKeylogCallback(ctx: HasNative, callback: ((line: string) => void) | null): void {
  if (callback !== null && typeof callback !== 'function')
    throw new InvalidArgumentError('Expected "callback" to be a function or null');
  const native = ctx[kNative];
  // A fresh wrapper per context: the addon holds it weakly, this map strongly.
  const wrapper = callback ? (line: string) => callback(line) : null;
  native.setKeylogCallback(wrapper);
  if (wrapper) retain(ctx).keylog = wrapper;
  else delete retain(ctx).keylog;
}

/**
 * The `requestCert: 'unverified'` mode: ask every client for a certificate,
 * finish the handshake whatever it sends, and leave the verdict to the
 * application (`TlsEngine.authorized` / `authorizationError`).
 * @throws StateError on a client context.
 */
export function setVerifyUnverified(ctx: HasNative): void {
  binding.setVerifyUnverified(ctx[kNative]);
}

/** Options of `SSLContext.set_session_options`. */
export interface SessionCacheOptions {
  /** Issue session tickets (TLS 1.2 and 1.3). Default true. False: resumption uses the server's cache only. */
  tickets?: boolean;
  /** Server-side session cache entries; 0 turns the cache off. OpenSSL's default is 20480. */
  cache_size?: number;
  /** Lifetime of a session (and ticket) in seconds. OpenSSL's default is 7200 (TLS 1.3: 7 days max). */
  timeout?: number;
  /**
   * When a resumed connection gets a new ticket. `'stale'` (the default):
   * when its ticket was sealed with an older key (see `set_ticket_keys`) or
   * has lived half its lifetime; otherwise the client resumes with it again,
   * as with node:tls. `'always'`: every resumption, so that a client can use
   * each ticket once (RFC 8446, appendix C.4), at the cost of sealing one
   * more ticket per resumed handshake.
   */
  renew_tickets?: TicketRenewal;
}

/** See `SessionCacheOptions.renew_tickets`. */
export type TicketRenewal = 'stale' | 'always';

export function setSessionOptions(ctx: HasNative, options: SessionCacheOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Expected "options" to be an object');
  const renew = options.renew_tickets;
  if (renew !== undefined && renew !== 'stale' && renew !== 'always')
    throw new InvalidArgumentError('Expected "renew_tickets" to be \'stale\' or \'always\'');
  const renewAlways = renew === undefined ? -1 : renew === 'always' ? 1 : 0;
  ctx[kNative].setSessionOptions(options.tickets ?? true, options.cache_size ?? -1, options.timeout ?? -1, renewAlways);
}

/** Bytes of one ticket key: 16 name, 32 HMAC, 32 AES. */
export const TICKET_KEY_LENGTH = 80;
