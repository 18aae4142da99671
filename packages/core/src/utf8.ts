// Where UTF-8 text may be cut: text reads of the Socket, TLSSocket, SSL and
// BIO classes never split a character.

/**
 * Length of the longest prefix of `buf` that ends on a UTF-8 character
 * boundary, looking back at most 3 bytes (a sequence is at most 4 long).
 */
export function utf8Boundary(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}
