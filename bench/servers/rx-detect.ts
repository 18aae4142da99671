// Whether @rxtls/rx (written separately) has the listen() the [rx] rows need.
export async function hasRxListen(): Promise<boolean> {
  try {
    const rx = (await import('@rxtls/rx')) as Record<string, unknown>;
    return typeof rx['listen'] === 'function';
  } catch {
    return false;
  }
}
