// Test certificates, made at test time: a CA, a server and a client leaf it
// signed, a self-signed server, an expired one. Also written to a temp dir
// (removed at exit) for peers that need files, like the openssl CLI.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  createCertificateAuthority,
  createSelfSignedCertificate,
  issueCertificate,
  type CertificateAndKey,
} from '@rxtls/core';

export interface Pki {
  ca: CertificateAndKey;
  /** Signed by `ca` for localhost, 127.0.0.1, ::1. */
  server: CertificateAndKey;
  /** Signed by `ca`, for client authentication. */
  client: CertificateAndKey;
  /** Self-signed for localhost, trusted by nobody. */
  selfSigned: CertificateAndKey;
  /** Signed by `ca`, validity ended yesterday. */
  expired: CertificateAndKey;
  /** Signed by `ca` for other.example only. */
  otherHost: CertificateAndKey;
  /** Files of all of the above: `<name>.crt` / `<name>.key`, plus `ca.crt`. */
  dir: string;
  file(name: keyof Omit<Pki, 'dir' | 'file'>, part: 'crt' | 'key'): string;
}

let cached: Pki | undefined;

export function pki(): Pki {
  if (cached) return cached;
  const ca = createCertificateAuthority();
  const made = {
    ca,
    server: issueCertificate(ca, { commonName: 'localhost' }),
    client: issueCertificate(ca, { commonName: 'rxtls test client', altNames: ['client.test'] }),
    selfSigned: createSelfSignedCertificate(),
    expired: issueCertificate(ca, { notBefore: new Date(Date.now() - 3 * 86400_000), validDays: 1 }),
    otherHost: issueCertificate(ca, { commonName: 'other.example', altNames: ['other.example'] }),
  };
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-pki-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const [name, pair] of Object.entries(made)) {
    writeFileSync(join(dir, `${name}.crt`), pair.cert);
    writeFileSync(join(dir, `${name}.key`), pair.key, { mode: 0o600 });
  }
  cached = { ...made, dir, file: (name, part) => join(dir, `${name}.${part}`) };
  return cached;
}
