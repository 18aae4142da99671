// Splits a `perf record` of a server (from `pnpm bench -- --perf DIR`) into
// where the time goes: kernel (syscalls, TCP), libc allocation, OpenSSL
// (linked into the node binary), V8 and JIT-compiled JS, node's C++, libuv,
// the rxtls addon.
//   node --import tsx bench/perf-summary.ts FILE.perf.data [--top N]
import { execFileSync } from 'node:child_process';

import { numberValue, parseCommandLine } from '@rxtls/bench';

const OPENSSL = /^(_?aesni|_?vpaes|_?gcm|_?ghash|_x86_64|ecp_nistz|__ecp|_?sha\d|KECCAK|ssl|tls|dtls|SSL_|TLS|EVP_|BIO_|ERR_|OPENSSL_|ossl_|CRYPTO_|OBJ_|ASN1_|asn1_|X509|x509|PEM_|EC_|ec_|ecp_|__ecp_|bn_|BN_|RAND_|rand_|aes|gcm_|AES_|sha|SHA|x25519|X25519|fe_|fe51_|fe64_|ge_|cmov|HMAC|hmac|evp_|OSSL_|PKCS|i2d_|d2i_|do_ssl3|ssl3_|tls1|tls13|WPACKET|PACKET|CRYPTO|lh_|OPENSSL_LH|ChaCha|chacha|poly1305|Poly1305|KDF|kdf|ECDSA|ecdsa|engine_|ENGINE|DH_|dh_|RSA|rsa|ct_|do_name|a2i|c2i|decoder|encoder|provider|property|ossl)/;

function category(dso: string, sym: string): string {
  if (dso.includes('kernel')) return 'kernel (syscalls, TCP/IP, scheduling)';
  if (dso.includes('rxtls.node')) return 'rxtls addon (C++)';
  if (dso.startsWith('[JIT]')) return 'JS (JIT-compiled)';
  if (dso.includes('libc')) {
    if (/malloc|free|_int_|consolidate|unlink_chunk|calloc|realloc|tcache/.test(sym)) return 'libc malloc/free';
    if (/mem(cpy|move|set|cmp)|str/.test(sym)) return 'libc memcpy/memset/str*';
    return 'libc other (syscall wrappers, locks)';
  }
  if (dso.includes('libstdc++')) return 'libstdc++';
  if (dso === 'node') {
    if (sym.startsWith('Builtins_') || sym.startsWith('v8::') || sym.startsWith('Heap') || /^v8_|^cppgc|^heap::/.test(sym)) return 'V8 (builtins, IC, GC, API)';
    if (sym.startsWith('node::')) return 'node C++ (TLSWrap, StreamBase, …)';
    if (sym.startsWith('uv_') || sym.startsWith('uv__')) return 'libuv';
    if (OPENSSL.test(sym)) return 'OpenSSL';
    return 'node binary, other';
  }
  return dso || 'unknown';
}

function main(): void {
  const { values, positionals } = parseCommandLine({ args: process.argv.slice(2), options: { top: { type: 'string' } }, allowPositionals: true });
  const flags = { top: numberValue('top', values.top) };
  const file = positionals[0];
  if (!file) throw new Error('usage: perf-summary FILE.perf.data [--top N]');
  const out = execFileSync('perf', ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '--stdio', '-g', 'none', '--percent-limit', '0'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const byCat = new Map<string, number>();
  const top: Array<[string, number]> = [];
  for (const line of out.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(\S.*?)\s+\[(?:\.|k)\]\s+(.*)$/.exec(line);
    if (!m) continue;
    const pct = Number(m[1]);
    const dso = m[2]!.trim();
    const sym = m[3]!.trim();
    const c = category(dso, sym);
    byCat.set(c, (byCat.get(c) ?? 0) + pct);
    top.push([`${sym}  (${c})`, pct]);
  }
  process.stdout.write(`${file}\n\nby category:\n`);
  for (const [c, p] of [...byCat].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${p.toFixed(1).padStart(5)} %  ${c}\n`);
  process.stdout.write('\ntop symbols:\n');
  for (const [s, p] of top.sort((a, b) => b[1] - a[1]).slice(0, flags.top ?? 20)) process.stdout.write(`  ${p.toFixed(2).padStart(5)} %  ${s}\n`);
}

main();
