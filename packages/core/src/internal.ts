// Symbols shared between core's modules and @rxtls/rx, kept off the
// documented surface. Not re-exported from the package index by name;
// reached through `internals` for the rx layer only.
export const kNative = Symbol('rxtls.native');
