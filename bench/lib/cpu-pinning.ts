// Which cores the servers and the load generators run on. On a small machine
// a load generator sharing cores with the server caps what the server can
// show, so each server is pinned to one core (`taskset`, util-linux) and
// every load generator (the harness process itself, wrk, openssl s_time) to
// the others.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface Pinning {
  /** CPU list (taskset -c syntax) for server processes; null: not pinned. */
  server: string | null;
  /** CPU list for load generators; null: not pinned. */
  client: string | null;
  /** The number of client CPUs (wrk's thread count). */
  clientCpus: number;
  /** Why pinning is off, when it is. */
  warning?: string;
}

const TASKSET_PATHS = ['/usr/bin/taskset', '/bin/taskset', '/usr/local/bin/taskset'];

function findTaskset(): string | null {
  return TASKSET_PATHS.find((p) => existsSync(p)) ?? null;
}

/** Expands a kernel CPU list ("0-3,6") into CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`cannot read CPU list "${text}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** The CPUs this process may run on (its affinity, not the machine's count). */
export function allowedCpus(): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseCpuList(m[1]!);
  } catch {
    // Not Linux: fall through.
  }
  return [];
}

/** The server on the first allowed CPU, load generators on the rest; off (with a warning) where that is impossible. */
export function planPinning(disabled: boolean): Pinning {
  const off = (warning: string): Pinning => ({ server: null, client: null, clientCpus: Math.max(1, allowedCpus().length), warning });
  if (disabled) return off('--no-pin: servers and load generators share every core');
  if (!findTaskset()) return off('taskset (util-linux) is not installed: servers and load generators are not pinned');
  const cpus = allowedCpus();
  if (cpus.length < 2) return off(`only ${cpus.length || 'an unknown number of'} core(s) available: server and load generator share it, figures are capped by the load generator`);
  return { server: String(cpus[0]), client: cpus.slice(1).join(','), clientCpus: cpus.length - 1 };
}

/** `command args` run on `cpus` (through taskset, which execs it: the pid stays the program's). */
export function pinnedCommand(cpus: string | null, command: string, args: readonly string[]): [string, string[]] {
  if (cpus === null) return [command, [...args]];
  return [findTaskset()!, ['-c', cpus, command, ...args]];
}

/** Pins every thread of this process (the JS load generator) to `cpus`; threads made later inherit it. */
export function pinSelf(cpus: string | null): void {
  if (cpus === null) return;
  const r = spawnSync(findTaskset()!, ['-a', '-p', '-c', cpus, String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset could not pin the harness to CPUs ${cpus}: ${(r.stderr ?? '').trim()}`);
}
