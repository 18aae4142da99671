// Where the load goes. Loopback unless the user says otherwise with
// `allowRemote`: the tool measures one's own servers, and pointing a load
// generator at someone else's host by a typo must not be one flag away.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

import { UsageError } from './values.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether `address` (an IP literal) is on loopback: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopback(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** A target after name resolution. */
export interface Target {
  /** As given (a name or an IP literal). */
  host: string;
  port: number;
  /** The address connections go to, resolved once for the whole run. */
  address: string;
}

/** Splits `HOST:PORT` (`[v6]:PORT` for IPv6 literals). */
export function parseHostPort(text: string | undefined): { host: string; port: number } {
  if (!text) throw new UsageError('give the target as HOST:PORT');
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new UsageError(`cannot read target "${text}" (expected HOST:PORT, [IPv6]:PORT)`);
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * Resolves `host` once and checks it: every address it names must be on
 * loopback unless `allowRemote`. Throws a UsageError that says which flag
 * lifts the refusal.
 */
export async function resolveTarget(host: string, port: number, allowRemote: boolean): Promise<Target> {
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  const remote = addresses.filter((a) => !isLoopback(a));
  if (remote.length > 0 && !allowRemote)
    throw new UsageError(
      `refusing to load ${host} (${remote.join(', ')}): it is not on loopback (127.0.0.0/8, ::1); ` +
        'pass --allow-remote to load a server that is not on this machine, and only one you are allowed to load',
    );
  return { host, port, address: addresses[0]! };
}
