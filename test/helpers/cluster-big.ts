// The 64 MiB a cluster-app worker sends for `big`: 64 blocks of 1 MiB, each
// numbered, so a lost, repeated or reordered block changes the SHA-256.
import { createHash } from 'node:crypto';

export const BIG_BLOCKS = 64;
const base = Buffer.alloc(1 << 20);
for (let i = 0; i < base.length; i++) base[i] = (i * 31 + (i >> 9)) & 255;

export function bigBlock(k: number): Buffer {
  const b = Buffer.from(base);
  b.writeUInt32BE(k, 0);
  return b;
}

export function bigDigest(): string {
  const h = createHash('sha256');
  for (let k = 0; k < BIG_BLOCKS; k++) h.update(bigBlock(k));
  return h.digest('hex');
}
