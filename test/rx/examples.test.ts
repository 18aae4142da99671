// The three rx examples run by themselves and exit 0, as a user would run them:
//   node --import tsx examples/<name>.ts
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(name: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // Bounded: a hang is a failure, not a stuck test run.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

for (const [name, expected] of [
  ['rx-echo', /echo matches/],
  ['tls-proxy', /through the proxy, echo matches/],
  ['rx-transform', /1: HELLO, WORLD\n2: RXTLS PIPES COST 0 €\n3: BYE/],
] as const) {
  test(`examples/${name}.ts runs and exits by itself`, async () => {
    const { code, out } = await run(name);
    assert.is(code, 0, out);
    assert.match(out, expected);
  });
}

test.run();
