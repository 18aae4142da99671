// Summarises a V8 .cpuprofile (from `pnpm bench -- --cpu-prof DIR`): self
// time by function and by where it lives (rxtls core, node internals,
// native/C++ (OpenSSL and the addon show up as "(program)" or the calling
// native function), GC, idle).
//   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';

import { numberValue, parseCommandLine } from '@rxtls/bench';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function area(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle (epoll wait)';
  if (name === '(program)') return 'native outside JS (libuv, OpenSSL called from C++, V8)';
  if (url.includes('/packages/core/')) return 'rxtls core (JS)';
  if (url.includes('/packages/rx/')) return 'rxtls rx (JS)';
  if (url.includes('/bench/')) return 'bench handler (JS)';
  if (url.includes('node_modules')) return 'dependencies (JS)';
  if (url.startsWith('node:')) return 'node internals (JS)';
  if (url === '') return 'native functions called from JS (addon, C++ builtins)';
  return 'other';
}

function main(): void {
  const { values, positionals } = parseCommandLine({ args: process.argv.slice(2), options: { top: { type: 'string' } }, allowPositionals: true });
  const flags = { top: numberValue('top', values.top) };
  const file = positionals[0];
  if (!file) throw new Error('usage: profile-summary FILE.cpuprofile [--top N]');
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  let idle = 0;
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const a = area(url, functionName);
    if (a.startsWith('idle')) idle += t;
    byArea.set(a, (byArea.get(a) ?? 0) + t);
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(packages|bench|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
  }
  const busy = total - idle;
  const pct = (t: number) => `${((t / busy) * 100).toFixed(1).padStart(5)} %`;
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (percentages of busy time)\n\nby area:\n`);
  for (const [a, t] of [...byArea].sort((x, y) => y[1] - x[1])) if (!a.startsWith('idle')) process.stdout.write(`  ${pct(t)}  ${a}\n`);
  process.stdout.write(`\ntop functions (self time):\n`);
  for (const [f, t] of [...byFn].sort((x, y) => y[1] - x[1]).slice(0, flags.top ?? 25)) {
    if (f.startsWith('(idle)')) continue;
    process.stdout.write(`  ${pct(t)}  ${f}\n`);
  }
}

main();
