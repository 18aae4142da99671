// The PROXY protocol parsers: v1 lines and v2 binary headers (TLVs skipped),
// LOCAL and PROXY, TCP over IPv4 and IPv6; truncated input asks for more,
// garbage, malformed and oversized headers are refused. Both parsers run
// every case: core's (the JS transport's listener) and the addon's (the
// native listener reads the header in C++, tcp_proxy_header.cc).
import { parseProxyHeader as parseJs, ProxyProtocolError, PROXY_V1_MAX_LENGTH, type ProxyHeader } from '@rxtls/core';
import { binding } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

type Parse = (buf: Buffer, maxLength?: number) => { header: ProxyHeader; length: number } | null;

/** The addon's parser; a refused header becomes the ProxyProtocolError core makes of it for tlsClientError. */
const parseNative: Parse = (buf, maxLength) => {
  try {
    return binding.parseProxyHeader(buf, maxLength);
  } catch (err) {
    if ((err as { proxyProtocol?: boolean }).proxyProtocol === true) throw new ProxyProtocolError((err as Error).message);
    throw err;
  }
};

for (const [parser, parseProxyHeader] of [['js', parseJs], ['native', parseNative]] as const) {

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header: version/command byte, family/transport byte, address block, TLVs. */
function v2(verCmd: number, famProto: number, block: Buffer, tlvs = Buffer.alloc(0)): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(block.length + tlvs.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, famProto]), len, block, tlvs]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function inet6(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(src, 'hex').copy(b, 0);
  Buffer.from(dst, 'hex').copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

const refused = (buf: Buffer, why: RegExp, max?: number) =>
  assert.throws(
    () => parseProxyHeader(buf, max),
    (e: Error & { code: string }) => e instanceof ProxyProtocolError && e.code === 'ERR_TLS_HANDSHAKE' && why.test(e.message),
  );

const v1 = suite(`PROXY protocol v1 (${parser})`);

v1('TCP4 and TCP6 lines; what follows the CRLF is not part of the header', () => {
  const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n';
  const r = parseProxyHeader(Buffer.from(`${line}\x16\x03\x01`));
  assert.equal(r, {
    header: {
      version: 1,
      command: 'proxy',
      source: { address: '192.0.2.7', port: 56324, family: 'IPv4' },
      destination: { address: '198.51.100.1', port: 443, family: 'IPv4' },
    },
    length: line.length,
  });
  const six = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::5 ::1 0 65535\r\n'))!;
  assert.equal(six.header.source, { address: '2001:db8::5', port: 0, family: 'IPv6' });
  assert.equal(six.header.destination, { address: '::1', port: 65535, family: 'IPv6' });
});

v1('UNKNOWN: a valid header that names no client (real endpoints apply)', () => {
  assert.equal(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { header: { version: 1, command: 'local' }, length: 15 });
  const r = parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ::1 1 2\r\nabc'))!;
  assert.is(r.header.command, 'local');
  assert.is(r.length, 31);
});

v1('truncated: every prefix of a valid line asks for more bytes', () => {
  const line = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n');
  for (let n = 0; n < line.length; n++) assert.is(parseProxyHeader(line.subarray(0, n)), null, `prefix ${n}`);
});

v1('malformed lines are refused', () => {
  refused(Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n'), /malformed v1 line/);
  refused(Buffer.from('PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n'), /unknown v1 protocol/);
  refused(Buffer.from('PROXY TCP4 ::1 198.51.100.1 1 2\r\n'), /malformed TCP4 address/);
  refused(Buffer.from('PROXY TCP6 192.0.2.7 ::1 1 2\r\n'), /malformed TCP6 address/);
  refused(Buffer.from('PROXY TCP4 192.0.2.007 198.51.100.1 1 2\r\n'), /malformed TCP4 address/);
  refused(Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n'), /malformed v1 port "65536"/);
  refused(Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 0443 2\r\n'), /malformed v1 port/);
  refused(Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n'), /malformed v1 port/);
  refused(Buffer.from('PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n'), /malformed v1 line/);
  refused(Buffer.from('PROXY TCP4 192.0.2.7\n'), /not printable ASCII/);
  refused(Buffer.from('PROXY TCP4 1\r92'), /not printable ASCII/);
  refused(Buffer.from('PROXY \x00'), /not printable ASCII/);
});

v1('oversized: no CRLF within 107 bytes', () => {
  refused(Buffer.from(`PROXY TCP6 ${'a'.repeat(PROXY_V1_MAX_LENGTH)}`), /longer than 107/);
  refused(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`), /longer than 107/);
  // 107 bytes exactly is allowed.
  const longest = `PROXY UNKNOWN ${'x'.repeat(PROXY_V1_MAX_LENGTH - 16)}\r\n`;
  assert.is(longest.length, PROXY_V1_MAX_LENGTH);
  assert.is(parseProxyHeader(Buffer.from(longest))!.length, PROXY_V1_MAX_LENGTH);
});

v1.run();

const two = suite(`PROXY protocol v2 (${parser})`);

two('PROXY over TCP/IPv4 with TLVs skipped; the client data after it is not consumed', () => {
  const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x01, 0x00]); // ALPN "h2", NOOP
  const header = v2(0x21, 0x11, inet4([203, 0, 113, 9], [10, 0, 0, 2], 40000, 8443), tlvs);
  const r = parseProxyHeader(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01])]));
  assert.equal(r, {
    header: {
      version: 2,
      command: 'proxy',
      source: { address: '203.0.113.9', port: 40000, family: 'IPv4' },
      destination: { address: '10.0.0.2', port: 8443, family: 'IPv4' },
    },
    length: header.length,
  });
});

two('PROXY over TCP/IPv6: addresses in node:net form (compressed, IPv4-mapped)', () => {
  const ip6 = (src: string, dst = '00000000000000000000000000000001') =>
    parseProxyHeader(v2(0x21, 0x21, inet6(src, dst, 1, 2)))!.header;
  const h = ip6('20010db8000000000000000000000005');
  assert.equal(h.source, { address: '2001:db8::5', port: 1, family: 'IPv6' });
  assert.equal(h.destination, { address: '::1', port: 2, family: 'IPv6' });
  assert.is(ip6('00000000000000000000ffffc0000207').source!.address, '::ffff:192.0.2.7');
  assert.is(ip6('20010db8000100000001000000000001').source!.address, '2001:db8:1:0:1::1');
  assert.is(ip6('20010db8123456789abcdef012345678').source!.address, '2001:db8:1234:5678:9abc:def0:1234:5678');
  assert.is(ip6('00000000000000000000000000000000').source!.address, '::');
});

two('LOCAL (a health check) and UNSPEC: valid, no client named', () => {
  assert.equal(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))), { header: { version: 2, command: 'local' }, length: 16 });
  // LOCAL may still carry an address block: skipped.
  assert.is(parseProxyHeader(v2(0x20, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))!.header.command, 'local');
  assert.is(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))!.header.command, 'local');
});

two('truncated: every prefix asks for more bytes', () => {
  const header = v2(0x21, 0x21, inet6('20010db8000000000000000000000005', '00000000000000000000000000000001', 1, 2));
  for (let n = 0; n < header.length; n++) assert.is(parseProxyHeader(header.subarray(0, n)), null, `prefix ${n}`);
});

two('malformed and oversized headers are refused', () => {
  refused(v2(0x11, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), /unknown v2 version 1/);
  refused(v2(0x22, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), /unknown v2 command 2/);
  refused(v2(0x21, 0x12, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), /transport 2 is not a stream/);
  refused(v2(0x21, 0x31, Buffer.alloc(216)), /family 3 is not TCP/);
  refused(v2(0x21, 0x11, Buffer.alloc(11)), /shorter than its family needs/);
  refused(v2(0x21, 0x21, Buffer.alloc(12)), /shorter than its family needs/);
  const big = v2(0x21, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), Buffer.alloc(5000));
  refused(big, /5028 bytes is over the limit of 4096/);
  refused(big.subarray(0, 16), /over the limit/, 4096);
  assert.is(parseProxyHeader(big, 6000)!.length, 5028);
});

two('garbage: not a PROXY header at all (a direct TLS ClientHello, HTTP, a bad signature)', () => {
  refused(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), /no PROXY header/);
  refused(Buffer.from('GET / HTTP/1.1\r\n'), /no PROXY header/);
  refused(Buffer.from('PROXX TCP4'), /no PROXY header/);
  const bad = Buffer.from(SIG);
  bad[11] = 0x0b;
  refused(bad, /no PROXY header/);
  refused(Buffer.from('proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n'), /no PROXY header/);
});

two.run();
}
