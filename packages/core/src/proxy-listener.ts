// A gate in front of a TLS server's accept handler: on a listener that
// expects the PROXY protocol, each connection must come from a trusted
// balancer and start with a valid header; the handler then sees the socket
// as if the client had connected directly (net-handle.ts carries the
// client's address and the bytes read past the header).
import { BlockList, isIP } from 'node:net';
import type * as net from 'node:net';

import { InvalidArgumentError, TimeoutError, type TlsError } from './errors.js';
import type { NativeProxySettings } from './native.js';
import { setAcceptedPrelude } from './net-handle.js';
import { parseProxyHeader, ProxyProtocolError, type ProxyHeader } from './proxy-protocol.js';

/** Default time a trusted peer has to send its whole header. */
export const DEFAULT_PROXY_HEADER_TIMEOUT = 5000;
/** Default longest header (v2 with TLVs), bytes. */
export const DEFAULT_PROXY_HEADER_MAX_LENGTH = 4096;

/** The `proxyProtocol` server option: this listener sits behind a balancer. */
export interface ProxyProtocolOptions {
  /**
   * Addresses of the balancers allowed to connect (`127.0.0.1`, `::1`) or
   * subnets (`10.0.0.0/8`, `fd00::/8`). A connection from any other address
   * is refused before a byte is read.
   */
  trusted: ReadonlyArray<string>;
  /** Milliseconds a trusted peer has to send its header (default 5000). */
  timeout?: number;
  /** Longest header accepted in bytes, TLVs included (default 4096; v1 lines stop at 107). */
  maxHeaderLength?: number;
}

type Accept = (accepted: net.Socket) => void;
type Report = (error: TlsError, accepted: net.Socket) => void;

/** `::ffff:10.0.0.1` (a dual-stack listener) is 10.0.0.1. */
const unmap = (address: string) => (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

/** The `trusted` entries as addresses and prefix lengths (a lone address: all its bits). */
function trustEntries(trusted: unknown): Array<{ address: string; bits: number }> {
  if (!Array.isArray(trusted) || trusted.length === 0)
    throw new InvalidArgumentError('Expected "proxyProtocol.trusted" to be a non-empty array of addresses or subnets');
  const entries: Array<{ address: string; bits: number }> = [];
  for (const entry of trusted) {
    const [address = '', prefix, extra] = typeof entry === 'string' ? entry.split('/') : [];
    const family = isIP(unmap(address));
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (family === 0 || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(prefix!) || bits > (family === 4 ? 32 : 128))))
      throw new InvalidArgumentError(`Expected "proxyProtocol.trusted" entries to be IP addresses or subnets, got ${String(entry)}`);
    entries.push({ address: unmap(address), bits: bits ?? (family === 4 ? 32 : 128) });
  }
  return entries;
}

function trustList(trusted: unknown): BlockList {
  const list = new BlockList();
  for (const { address, bits } of trustEntries(trusted)) list.addSubnet(address, bits, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  return list;
}

/** Checks `proxyProtocol` and fills in its defaults. */
function resolveOptions(options: ProxyProtocolOptions): NativeProxySettings {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Expected "proxyProtocol" to be an object');
  const trusted = trustEntries(options.trusted);
  const timeout = options.timeout ?? DEFAULT_PROXY_HEADER_TIMEOUT;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)
    throw new InvalidArgumentError('Expected "proxyProtocol.timeout" to be a number of milliseconds above 0');
  const maxHeaderLength = options.maxHeaderLength ?? DEFAULT_PROXY_HEADER_MAX_LENGTH;
  if (!Number.isInteger(maxHeaderLength) || maxHeaderLength < 232 || maxHeaderLength > 65551)
    throw new InvalidArgumentError('Expected "proxyProtocol.maxHeaderLength" to be an integer from 232 to 65551');
  return { trusted, timeout, maxHeaderLength };
}

/**
 * `proxyProtocol` for a native listener, which reads and checks the header
 * itself (tcp_proxy.cc), with the same rules and messages as the gate below.
 * @throws InvalidArgumentError for a bad option, as `proxyProtocolGate`.
 */
export function nativeProxySettings(options: ProxyProtocolOptions): NativeProxySettings {
  const resolved = resolveOptions(options);
  // A timeout the native timer can hold (setTimeout's own limit).
  return { ...resolved, timeout: Math.min(Math.max(1, Math.ceil(resolved.timeout)), 2147483647) };
}

function isTrusted(list: BlockList, address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = unmap(address);
  return list.check(a, isIP(a) === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Wraps `accept` so that it runs only once the PROXY header has been read
 * and checked; a connection from an untrusted address, with a malformed or
 * missing header, or too slow to send it is destroyed and `report`ed.
 */
export function proxyProtocolGate(options: ProxyProtocolOptions, accept: Accept, report: Report): Accept {
  const { timeout, maxHeaderLength: maxLength } = resolveOptions(options);
  const trusted = trustList(options.trusted);
  return (accepted) => {
    if (!isTrusted(trusted, accepted.remoteAddress)) {
      accepted.destroy();
      report(new ProxyProtocolError(`PROXY protocol: connection from untrusted address ${accepted.remoteAddress} refused`), accepted);
      return;
    }
    readHeader(accepted, timeout, maxLength, accept, report);
  };
}

/**
 * Reads the header (the accepted socket reads eagerly meanwhile: a few
 * hundred bytes, once), then stops, and hands the socket to `accept` with
 * whatever came after the header.
 */
function readHeader(accepted: net.Socket, timeout: number, maxLength: number, accept: Accept, report: Report): void {
  let got: Buffer = Buffer.alloc(0);
  let done = false;
  const finish = (error: TlsError | undefined, header?: ProxyHeader, length = 0) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    accepted.off('data', onData);
    accepted.off('end', onEnd);
    accepted.off('error', onError);
    accepted.off('close', onEnd);
    if (error) {
      accepted.on('error', () => {});
      accepted.destroy();
      report(error, accepted);
      return;
    }
    accepted.pause();
    // Anything read past the header (the ClientHello, often in the same segment).
    const rest = [got.subarray(length)];
    for (let chunk: Buffer | null; (chunk = accepted.read() as Buffer | null) !== null; ) rest.push(chunk);
    const head = Buffer.concat(rest);
    setAcceptedPrelude(accepted, {
      ...(head.length > 0 ? { head } : {}),
      ...(header?.source ? { peer: header.source } : {}),
    });
    accept(accepted);
  };
  const onData = (chunk: Buffer) => {
    got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
    try {
      const parsed = parseProxyHeader(got, maxLength);
      if (parsed) finish(undefined, parsed.header, parsed.length);
      else if (got.length >= maxLength) finish(new ProxyProtocolError(`PROXY protocol: no complete header in ${maxLength} bytes`));
    } catch (err) {
      finish(err as TlsError);
    }
  };
  const onEnd = () => finish(new ProxyProtocolError('PROXY protocol: the peer closed before sending a complete header'));
  const onError = (err: Error) => finish(new ProxyProtocolError(`PROXY protocol: ${err.message}`, { cause: err }));
  const timer = setTimeout(() => finish(new TimeoutError(`PROXY protocol header not received within ${timeout} ms`)), timeout);
  timer.unref();
  accepted.on('data', onData);
  accepted.on('end', onEnd);
  accepted.on('error', onError);
  accepted.on('close', onEnd); // destroyed meanwhile (by the peer, or by code tracking the server's sockets)
  accepted.resume();
}
