// Finds the stream.Duplex adapter of @rxtls/core (being written separately)
// by the names it may carry; the HTTPS scenario falls back to the minimal
// responder while there is none.
import type { Duplex } from 'node:stream';

import type { TlsEngine } from '@rxtls/core';

export type DuplexAdapter = (engine: TlsEngine) => Duplex;

const CANDIDATES = ['toDuplex', 'engineToDuplex', 'duplexFromEngine', 'createDuplex', 'asDuplex'];

export async function findDuplexAdapter(): Promise<DuplexAdapter | null> {
  const core = (await import('@rxtls/core')) as Record<string, unknown>;
  for (const name of CANDIDATES) {
    const fn = core[name];
    if (typeof fn === 'function') return fn as DuplexAdapter;
  }
  const cls = core['TlsDuplex'] ?? core['EngineDuplex'];
  if (typeof cls === 'function') return (engine) => new (cls as new (e: TlsEngine) => Duplex)(engine);
  return null;
}
