// The default key exchange groups: the post-quantum hybrid X25519MLKEM768
// where the OpenSSL under Node has it (3.5+: Node 22, 24), X25519 where it
// does not (Node 20's 3.0), negotiated with node:tls both ways and reported
// by info(). Each case runs in a child Node whose openssl.cnf narrows the
// system default groups to P-256: only groups rxtls sets itself are offered.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';

/** Whether node:tls (so the OpenSSL both share) knows the hybrid group. */
function opensslHasHybrid(): boolean {
  try {
    tls.createSecureContext({ ecdhCurve: 'X25519MLKEM768' });
    return true;
  } catch {
    return false;
  }
}

const hybrid = opensslHasHybrid();
const expected = hybrid ? 'X25519MLKEM768' : 'x25519';
// What node:tls accepts: both, preferring the hybrid where it exists.
const nodeCurves = hybrid ? 'X25519MLKEM768:X25519:P-256' : 'X25519:P-256';

/**
 * Runs `script` (ESM, may import @rxtls/core) in a child Node whose
 * openssl.cnf narrows the system default groups to P-256; returns the last
 * line it printed, parsed.
 */
async function inNarrowedNode<T>(script: string): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rxtls-groups-'));
  try {
    const cnf = join(dir, 'openssl.cnf');
    writeFileSync(
      cnf,
      'nodejs_conf = nodejs_init\n[nodejs_init]\nssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = groups\n[groups]\nGroups = P-256\n',
    );
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { env: { ...process.env, OPENSSL_CONF: cnf, CURVES: nodeCurves }, timeout: 30_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
    return JSON.parse(out.trim().split('\n').pop()!) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Runs in the child: an rxtls client against a node:tls server, then a
// node:tls client against an rxtls server; prints the groups rxtls reports.
const child = `
import * as tls from 'node:tls';
import { connectTls, createSelfSignedCertificate, createTlsServer } from '@rxtls/core';
const { cert, key } = createSelfSignedCertificate({ commonName: 'localhost' });
const curves = process.env.CURVES;
const secure = (e) => new Promise((ok, fail) => { e.onsecure = () => ok(e); e.onerror = fail; });
const nodeServer = tls.createServer({ cert, key, ecdhCurve: curves }, (s) => s.end());
await new Promise((r) => nodeServer.listen(0, '127.0.0.1', r));
const client = await secure(connectTls({ host: '127.0.0.1', port: nodeServer.address().port, ca: cert }));
const asClient = client.info().group;
client.destroy();
nodeServer.close();
let resolveGroup;
const serverGroup = new Promise((r) => (resolveGroup = r));
const server = createTlsServer({ cert, key }, (e) => { e.onsecure = () => { resolveGroup(e.info().group); e.end(); }; });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const nodeClient = tls.connect({ host: '127.0.0.1', port: server.address().port, ca: cert, checkServerIdentity: () => undefined, ecdhCurve: curves });
nodeClient.on('error', () => {});
const asServer = await serverGroup;
nodeClient.destroy();
server.close();
console.log(JSON.stringify({ asClient, asServer }));
`;

const test = suite('key exchange groups');

test('the hybrid group is there where the run requires it (RXTLS_EXPECT_HYBRID=1: Node 22, 24)', () => {
  if (process.env.RXTLS_EXPECT_HYBRID === '1') assert.ok(hybrid, `X25519MLKEM768 unknown to OpenSSL ${process.versions.openssl}`);
  else assert.ok(hybrid || /^3\.[0-4]\./.test(process.versions.openssl), `OpenSSL ${process.versions.openssl} should know it`);
});

test(`rxtls offers and reports ${expected} with node:tls, both ways, whatever openssl.cnf says`, async () => {
  const groups = await inNarrowedNode<{ asClient: string; asServer: string }>(child);
  assert.equal(groups, { asClient: expected, asServer: expected });
});

test('the narrowed openssl.cnf is in force in the child (node:tls alone falls to P-256)', async () => {
  // Guards the test above: without rxtls's own list, the config would win.
  const info = await inNarrowedNode<{ name?: string }>(`
import * as tls from 'node:tls';
import { createSelfSignedCertificate } from '@rxtls/core';
const { cert, key } = createSelfSignedCertificate({ commonName: 'localhost' });
const server = tls.createServer({ cert, key, ecdhCurve: process.env.CURVES }, (s) => s.end());
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const c = tls.connect({ host: '127.0.0.1', port: server.address().port, ca: cert, checkServerIdentity: () => undefined }, () => {
  console.log(JSON.stringify(c.getEphemeralKeyInfo()));
  c.destroy();
  server.close();
});
`);
  assert.is(info.name, 'prime256v1');
});

test.run();
