// The packages as a user gets them: `pnpm -r pack`, then `npm i` of the three
// tarballs plus rxjs in an empty project, on a PATH with node, npm and sh
// only (no g++, make or python3: the prebuilt binary must do), and an echo
// over 127.0.0.1 from ESM and from CommonJS. Also what the tarballs hold:
// the prebuild, no .tsbuildinfo, source maps whose sources ship, metadata,
// and .d.ts files that type-check with internals stripped.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
const PACKAGES = ['native', 'core', 'rx'] as const;

interface Run {
  stdout: string;
  stderr: string;
}

/** Runs a program to its end within `timeout` ms; rejects with its output on failure. */
function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...options, maxBuffer: 16 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`)) : resolve({ stdout, stderr }),
    );
  });
}

/** The real file a command on this PATH resolves to. */
function which(command: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, command);
    if (existsSync(path)) return realpathSync(path);
  }
  throw new Error(`${command} not on PATH`);
}

const work = mkdtempSync(join(tmpdir(), 'rxtls-pack-'));
const packs = join(work, 'packs');
const unpacked = join(work, 'unpacked');
const bin = join(work, 'bin');
const project = join(work, 'project');
const tarball = (name: string) => join(packs, `rxtls-${name}-0.1.0.tgz`);
// This environment (its CA settings reach the registry), with a PATH of only
// node, npm and sh, as on a machine without a build toolchain; without the
// npm_* variables a `pnpm test` run sets.
const userEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm|pnpm)_/i.test(k))),
  PATH: bin,
  npm_config_update_notifier: 'false',
};

const test = suite('packed tarballs');

test.before(async () => {
  for (const dir of [packs, unpacked, bin, project]) mkdirSync(dir);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(which('npm'), join(bin, 'npm'));
  symlinkSync(which('sh'), join(bin, 'sh'));
  // prepack makes the prebuild (a compile only when the C++ changed).
  await run('pnpm', ['-r', 'pack', '--pack-destination', packs], { cwd: root, timeout: 240_000 });
  for (const name of PACKAGES) {
    mkdirSync(join(unpacked, name));
    await run('tar', ['xzf', tarball(name), '-C', join(unpacked, name)], { cwd: work, timeout: 30_000 });
  }
});

test.after(() => rmSync(work, { recursive: true, force: true }));

const files = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));

test('each tarball carries metadata, README and LICENSE, and no .tsbuildinfo', () => {
  for (const name of PACKAGES) {
    const dir = join(unpacked, name, 'package');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    assert.is(pkg.license, 'MIT', name);
    assert.ok(pkg.engines?.node, `${name} engines`);
    assert.ok(pkg.repository?.url, `${name} repository`);
    assert.ok(pkg.keywords?.length > 0, `${name} keywords`);
    for (const dep of Object.values<string>(pkg.dependencies ?? {})) assert.not.match(dep, /^workspace:/, `${name}: ${dep}`);
    assert.ok(existsSync(join(dir, 'README.md')), `${name} README`);
    assert.ok(existsSync(join(dir, 'LICENSE')), `${name} LICENSE`);
    assert.equal(files(dir).filter((f) => f.endsWith('.tsbuildinfo')), [], name);
  }
});

test('@rxtls/native carries the linux-x64 prebuild', () => {
  const dir = join(unpacked, 'native', 'package', 'prebuilds', `${process.platform}-${process.arch}`);
  assert.ok(existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node')), 'prebuild in the tarball');
});

test('every source map names sources that are in the tarball', () => {
  let maps = 0;
  for (const name of PACKAGES) {
    for (const map of files(join(unpacked, name, 'package')).filter((f) => f.endsWith('.map'))) {
      maps++;
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const source of sources) assert.ok(existsSync(join(dirname(map), source)), `${map} → ${source}`);
    }
  }
  assert.ok(maps > 0, 'maps found');
});

test('npm i of the three tarballs and rxjs works without a compiler on PATH', async () => {
  for (const tool of ['g++', 'cc', 'make', 'python3']) assert.not.ok(existsSync(join(bin, tool)), tool);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'rxtls-user', private: true }));
  await run(
    'npm',
    ['i', '--no-audit', '--no-fund', '--prefer-offline', ...PACKAGES.map(tarball), 'rxjs@^7.8.0'],
    { cwd: project, env: userEnv, timeout: 180_000 },
  );
  // What the package's install step does (npm may hold install scripts for approval).
  const native = join(project, 'node_modules', '@rxtls', 'native');
  await run(join(bin, 'node'), [join(native, 'scripts', 'install.mjs')], { cwd: native, env: userEnv, timeout: 60_000 });
  assert.not.ok(existsSync(join(native, 'build')), 'no build from source: the prebuild loads');
});

for (const script of ['echo.mjs', 'echo.cjs']) {
  test(`${script}: an rxtls echo on 127.0.0.1 from the installed packages`, async () => {
    writeFileSync(join(project, script), readFileSync(join(fixtures, script)));
    const { stdout, stderr } = await run(join(bin, 'node'), [script], { cwd: project, env: userEnv, timeout: 30_000 });
    const result = JSON.parse(stdout.trim());
    assert.is(result.echo, 'ping over rxtls');
    assert.is(result.protocol, 'TLSv1.3');
    assert.not.match(stderr, /Warning|Error/, stderr);
  });
}

test('the published .d.ts type-check with internals stripped', async () => {
  writeFileSync(
    join(project, 'use.ts'),
    [
      "import { connectTls, createSelfSignedCertificate, type TlsError } from '@rxtls/core';",
      "import { connect, listen } from '@rxtls/rx';",
      "import { binding } from '@rxtls/native';",
      "const { cert } = createSelfSignedCertificate({ commonName: 'localhost' });",
      "export const engine = connectTls({ host: '127.0.0.1', port: 1, ca: cert });",
      "export const streams = [connect({ host: '127.0.0.1', port: 1 }), listen({ port: 0 })];",
      'export const version: string = binding.opensslVersion;',
      'export type E = TlsError;',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['use.ts'],
    }),
  );
  await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, timeout: 120_000 });
  // ssl.ts exports readLength and toBytes for the package's own modules, marked @internal.
  const dts = readFileSync(join(project, 'node_modules', '@rxtls', 'core', 'dist', 'ssl.d.ts'), 'utf8');
  assert.match(dts, /declare class SSL\b/);
  assert.not.match(dts, /readLength|toBytes/, '@internal declarations are stripped');
  const index = readFileSync(join(project, 'node_modules', '@rxtls', 'core', 'dist', 'index.d.ts'), 'utf8');
  assert.not.match(index, /nativeBinding/);
});

test.run();
