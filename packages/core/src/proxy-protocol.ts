// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
// that a load balancer sends before the client's bytes, telling the server
// who the client is. Parsing only: proxy-listener.ts reads it off sockets.
import { isIPv4, isIPv6 } from 'node:net';

import { HandshakeError } from './errors.js';

/** An address and port the header names. */
export interface ProxyAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** What a PROXY protocol header said. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * `'proxy'`: relayed for a client, `source` and `destination` say who.
   * `'local'`: the balancer's own connection (a health check), or a relay
   * for an address family it does not name: use the real endpoints.
   */
  command: 'proxy' | 'local';
  /** The client (absent for `'local'`). */
  source?: ProxyAddress;
  /** The address the client connected to (absent for `'local'`). */
  destination?: ProxyAddress;
}

/** A header the server refused: malformed, missing, from an untrusted source. */
export class ProxyProtocolError extends HandshakeError {}

/** v1's longest line, CRLF included (the spec's limit). */
export const PROXY_V1_MAX_LENGTH = 107;

const V1_PREFIX = Buffer.from('PROXY ');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

const fail = (why: string): never => {
  throw new ProxyProtocolError(`PROXY protocol: ${why}`);
};

/** True while `buf` could still be the start of `sig` (or holds all of it). */
function startsLike(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.compare(sig, 0, n, 0, n) === 0;
}

/**
 * Parses the header at the start of `buf`.
 * @param maxLength Longest header accepted (v2 with its TLVs), bytes.
 * @returns The header and its length in bytes (what follows is the client's
 *   data), or null when `buf` is a valid beginning that needs more bytes.
 * @throws ProxyProtocolError for anything else: not a PROXY header, a
 *   malformed one, or one longer than `maxLength`.
 */
export function parseProxyHeader(buf: Buffer, maxLength = 4096): { header: ProxyHeader; length: number } | null {
  if (buf.length === 0) return null;
  if (startsLike(buf, V1_PREFIX)) return parseV1(buf);
  if (startsLike(buf, V2_SIGNATURE)) return parseV2(buf, maxLength);
  return fail('no PROXY header (the connection did not come through the proxy)');
}

function parseV1(buf: Buffer): { header: ProxyHeader; length: number } | null {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end < 0 || end + 2 > PROXY_V1_MAX_LENGTH) {
    if (end >= 0 || buf.length >= PROXY_V1_MAX_LENGTH) fail(`v1 line longer than ${PROXY_V1_MAX_LENGTH} bytes`);
    // Waits for the rest of a line only while it could still be one
    // (printable ASCII, a CR only as the last byte so far).
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if ((b < 0x20 || b > 0x7e) && !(b === 0x0d && i === buf.length - 1)) fail('v1 line with a byte that is not printable ASCII');
    }
    return null;
  }
  const length = end + 2;
  const line = buf.toString('latin1', 0, end);
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { header: { version: 1, command: 'local' }, length };
  if (parts.length !== 6) fail(`malformed v1 line "${line}"`);
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  if (proto !== 'TCP4' && proto !== 'TCP6') fail(`unknown v1 protocol "${proto}"`);
  const family = proto === 'TCP4' ? 'IPv4' : 'IPv6';
  const valid = family === 'IPv4' ? isIPv4 : isIPv6;
  if (!valid(src) || !valid(dst)) fail(`malformed ${proto} address in "${line}"`);
  return {
    header: {
      version: 1,
      command: 'proxy',
      source: { address: src, port: v1Port(sport), family },
      destination: { address: dst, port: v1Port(dport), family },
    },
    length,
  };
}

function v1Port(text: string): number {
  // Decimal, no sign and no leading zero.
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535) fail(`malformed v1 port "${text}"`);
  return Number(text);
}

function parseV2(buf: Buffer, maxLength: number): { header: ProxyHeader; length: number } | null {
  if (buf.length < V2_FIXED) return null;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) fail(`unknown v2 version ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) fail(`unknown v2 command ${cmd}`);
  const length = V2_FIXED + buf.readUInt16BE(14);
  if (length > maxLength) fail(`v2 header of ${length} bytes is over the limit of ${maxLength}`);
  if (buf.length < length) return null;
  if (cmd === 0) return { header: { version: 2, command: 'local' }, length };
  const fam = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  // UNSPEC: the balancer relays something it cannot name; use the real endpoints.
  if (fam === 0) return { header: { version: 2, command: 'local' }, length };
  if (fam !== 1 && fam !== 2) fail(`v2 address family ${fam} is not TCP over IPv4 or IPv6`);
  if (transport !== 1) fail(`v2 transport ${transport} is not a stream`);
  const size = fam === 1 ? 4 : 16;
  if (length - V2_FIXED < 2 * size + 4) fail('v2 address block shorter than its family needs');
  // What follows the addresses (TLVs) is skipped.
  const at = V2_FIXED;
  const family = fam === 1 ? 'IPv4' : 'IPv6';
  const address = (offset: number) => (fam === 1 ? ipv4(buf, offset) : ipv6(buf, offset));
  return {
    header: {
      version: 2,
      command: 'proxy',
      source: { address: address(at), port: buf.readUInt16BE(at + 2 * size), family },
      destination: { address: address(at + size), port: buf.readUInt16BE(at + 2 * size + 2), family },
    },
    length,
  };
}

function ipv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** An IPv6 address in the form node:net reports (`::1`, `2001:db8::5`). */
function ipv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + 2 * i));
  // IPv4-mapped (::ffff:a.b.c.d), as node:net prints it.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4(buf, at + 12)}`;
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
