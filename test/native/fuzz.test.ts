// Native fuzzing, no sockets: random and mutated TLS input, captured from real
// sessions and from the seed corpus in test/fuzz-corpus, fed in arbitrary
// chunkings to server sessions and client sessions (fresh, mid-handshake and
// established); also damaged saved sessions and certificates, which
// applications take from storage or peers. Each input must end in a typed
// error or a clean state; the process must not crash, hang or grow without
// bound.
//
// A second test sends ClientHellos (intact and mutated) through cycleAsync,
// the handshake step on libuv's thread pool, calling the session and
// freeing it while a step is in flight.
//
// Reproducible: every input draws from its own PRNG, seeded from the run's
// seed and its index. The seed is printed at the start; a failure prints
//   RXTLS_FUZZ_SEED=<seed> RXTLS_FUZZ_INPUT=<index>
// and writes the input's bytes to a temp file. Knobs: RXTLS_FUZZ_SEED (the
// run's seed), RXTLS_FUZZ_INPUTS (how many, default 20000), RXTLS_FUZZ_INPUT
// (run only that index), RXTLS_FUZZ_ASYNC_INPUTS (default 1000).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { ErrorCode, TlsError } from '@rxtls/core';
import { binding, CycleFlag, type NativeContext, type NativeSession, type SessionOut } from '@rxtls/native';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { pki } from '../helpers/pki.js';
import { clientContext, pump, serverContext, side, take, type Side } from '../hostile/lib/memory.js';

// --- a small seeded PRNG (mulberry32): the whole input follows from one number

type Rng = {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
};

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    pick: (items) => items[int(items.length)]!,
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}

/** The seed of input `index`: a hash of the run's seed and the index. */
function inputSeed(runSeed: number, index: number): number {
  let h = (runSeed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const envInt = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
};

const RUN_SEED = envInt('RXTLS_FUZZ_SEED') ?? randomBytes(4).readUInt32LE(0);
const INPUTS = envInt('RXTLS_FUZZ_INPUTS') ?? 20_000;
const ONLY = envInt('RXTLS_FUZZ_INPUT');

// --- seeds: the committed corpus plus flights captured now from real sessions

function loadCorpus(): Map<string, Buffer> {
  const dir = new URL('../fuzz-corpus/', import.meta.url).pathname;
  const corpus = new Map<string, Buffer>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.hex')).sort()) {
    const hex = readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('')
      .replace(/\s+/g, '');
    corpus.set(name, Buffer.from(hex, 'hex'));
  }
  return corpus;
}

interface Contexts {
  server: NativeContext;
  client: NativeContext;
  client12: NativeContext;
}

/** Every flight of a full exchange (handshake, a write, close_notify), in order. */
function capture(ctx: Contexts, tls12: boolean, sessions: Buffer[]): Buffer[] {
  const flights: Buffer[] = [];
  const c = side(tls12 ? ctx.client12 : ctx.client, false);
  const s = side(ctx.server, true);
  const rec = (_from: 'a' | 'b', enc: Buffer) => flights.push(Buffer.from(enc));
  pump(c, s, undefined, rec);
  pump(c, s, take(c, c.session.write('captured application data')), rec);
  pump(c, s, take(c, c.session.shutdown()), rec);
  const saved = c.session.getSession();
  if (saved) sessions.push(saved);
  c.session.free();
  s.session.free();
  return flights;
}

interface Seeds {
  /** Certificates, DER and PEM, for parseCertificate (applications parse untrusted ones). */
  certificates: Buffer[];
  /** Saved sessions (`getSession()`, DER) a client may be asked to resume. */
  sessions: Buffer[];
  /** Inputs a server expects first (ClientHellos and what else may come first). */
  toServer: Buffer[];
  /** Inputs a client expects after its ClientHello (server flights). */
  toClient: Buffer[];
  all: Buffer[];
}

function seeds(ctx: Contexts): Seeds {
  const corpus = loadCorpus();
  assert.ok(corpus.size >= 6, 'seed corpus present');
  const sessions: Buffer[] = [];
  const t13 = capture(ctx, false, sessions);
  const t12 = capture(ctx, true, sessions);
  assert.is(sessions.length, 2, 'saved sessions captured');
  const fromCorpus = (prefix: string) => [...corpus].filter(([n]) => n.startsWith(prefix)).map(([, b]) => b);
  const edge = [...corpus].filter(([n]) => !/^(client-hello|server-flight|client-finish|app-data)/.test(n)).map(([, b]) => b);
  const toServer = [t13[0]!, t12[0]!, ...fromCorpus('client-hello'), ...edge];
  const toClient = [t13[1]!, t12[1]!, ...fromCorpus('server-flight'), ...edge];
  const certificates = [binding.parseCertificate(pki().server.cert).raw, binding.parseCertificate(pki().ca.cert).raw, Buffer.from(pki().server.cert)];
  return { certificates, sessions, toServer, toClient, all: [...toServer, ...toClient, ...t13, ...t12, ...sessions, ...corpus.values()] };
}

// --- mutations

/** Offsets of the 2-byte length of each TLS record header found by walking the input. */
function recordLengthOffsets(b: Buffer): number[] {
  const offsets: number[] = [];
  for (let pos = 0; pos + 5 <= b.length && offsets.length < 64; ) {
    offsets.push(pos + 3);
    pos += 5 + b.readUInt16BE(pos + 3);
  }
  return offsets;
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x14, 0x15, 0x16, 0x17, 0x18, 0x03, 0x04];
// Record lengths around the limits: empty, one, the plaintext maximum, the
// ciphertext maximum (2^14 + 256 for TLS 1.3, + 2048 for 1.2) and beyond.
const INTERESTING_LENGTHS = [0, 1, 2, 0x3fff, 0x4000, 0x4001, 0x4100, 0x4101, 0x4800, 0x4801, 0x7fff, 0xffff];

function mutate(rng: Rng, input: Buffer, others: readonly Buffer[]): Buffer {
  let b = Buffer.from(input);
  const rounds = rng.range(1, 4);
  for (let r = 0; r < rounds; r++) {
    const len = b.length;
    const at = len > 0 ? rng.int(len) : 0;
    switch (rng.int(11)) {
      case 0: // flip one bit
        if (len) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1: // an interesting byte
        if (len) b[at] = rng.pick(INTERESTING_BYTES);
        break;
      case 2: // a random run
        if (len) rng.bytes(Math.min(len - at, rng.range(1, 32))).copy(b, at);
        break;
      case 3: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 64)), b.subarray(at)]);
        break;
      case 4: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(len, at + rng.range(1, 64)))]);
        break;
      case 5: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, Math.min(len, at + rng.range(1, 256))), b.subarray(at)]);
        break;
      case 6: // truncate
        b = b.subarray(0, at);
        break;
      case 7: // splice another seed in
        {
          const other = rng.pick(others);
          const from = other.length ? rng.int(other.length) : 0;
          b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + rng.range(1, 512))]);
        }
        break;
      case 8: // a record length around the limits
        {
          const offsets = recordLengthOffsets(b);
          if (offsets.length) b.writeUInt16BE(rng.pick(INTERESTING_LENGTHS), rng.pick(offsets));
        }
        break;
      case 9: // a handshake message length (24 bits after the message type)
        {
          const offsets = recordLengthOffsets(b).filter((o) => o + 6 <= b.length);
          if (offsets.length) b.writeUIntBE(rng.pick([0, 1, 0xffff, 0x4000, 0xffffff, rng.int(0x1000000)]), rng.pick(offsets) + 3, 3);
        }
        break;
      case 10: // a record version or content type
        {
          const offsets = recordLengthOffsets(b);
          if (offsets.length) {
            const o = rng.pick(offsets);
            if (rng.int(2)) b[o - 3] = rng.pick(INTERESTING_BYTES);
            else b.writeUInt16BE(rng.pick([0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x7f1c, 0xfefd, 0x0002]), o - 2);
          }
        }
        break;
    }
  }
  return b;
}

/** Well-formed-looking records with random types, versions, lengths and bodies. */
function randomRecords(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  for (let n = rng.range(1, 4); n > 0; n--) {
    const bodyLength = rng.int(4) === 0 ? rng.range(0, 3000) : rng.range(0, 300);
    const header = Buffer.alloc(5);
    header[0] = rng.pick([0x14, 0x15, 0x16, 0x17, 0x18, rng.int(256)]);
    header.writeUInt16BE(rng.pick([0x0301, 0x0303, 0x0304, rng.int(0x10000)]), 1);
    header.writeUInt16BE(rng.int(8) === 0 ? rng.pick(INTERESTING_LENGTHS) : bodyLength, 3);
    const body = rng.bytes(bodyLength);
    // Sometimes a plausible handshake message header inside.
    if (header[0] === 0x16 && bodyLength >= 4) {
      body[0] = rng.pick([1, 2, 4, 8, 11, 12, 13, 14, 15, 16, 20, 24]);
      body.writeUIntBE(rng.int(4) === 0 ? rng.int(0x1000000) : bodyLength - 4, 1, 3);
    }
    parts.push(header, body);
  }
  return Buffer.concat(parts);
}

// --- feeding

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

interface Outcome {
  kind: 'error' | 'clean';
  code?: string;
  secure: boolean;
}

/** Checks an error a session produced or threw: a TlsError with a stable code. */
function checkError(err: unknown, where: string): string {
  assert.ok(err instanceof TlsError, `${where}: error is a TlsError (got ${String(err)})`);
  assert.ok(KNOWN_CODES.has((err as TlsError).code), `${where}: known code ${(err as TlsError).code}`);
  return (err as TlsError).code;
}

/**
 * Feeds `input` to `s` in chunks the PRNG chooses, at most one native call per
 * chunk (bounded), then checks the session ends in an error or a clean state,
 * and frees it.
 */
function feed(rng: Rng, s: Side, input: Buffer): Outcome {
  const session = s.session;
  let code: string | undefined;
  let pos = 0;
  const mode = rng.int(5);
  let calls = 0;
  while (pos < input.length && code === undefined) {
    let n: number;
    if (mode === 0) n = input.length;
    else if (mode === 1) n = 1;
    else if (mode === 2) n = rng.range(1, 8);
    else if (mode === 3) n = rng.range(1, 300);
    else n = rng.range(1, input.length);
    n = Math.min(n, input.length - pos);
    let flags: number;
    try {
      // Half the time pass a larger buffer and a length: the length must be honoured.
      if (rng.int(2)) flags = session.cycle(input.subarray(pos, pos + n));
      else flags = session.cycle(input.subarray(pos), n);
    } catch (err) {
      code = checkError(err, 'cycle threw');
      break;
    }
    calls++;
    assert.ok(Number.isInteger(flags) && flags >= 0 && flags < 32, 'cycle returns flag bits');
    take(s, flags);
    if (flags & CycleFlag.Error) code = checkError(s.error, 'cycle error');
    pos += n;
    // Bounded: never more native calls than input bytes (plus one).
    assert.ok(calls <= input.length + 1, 'bounded number of calls');
  }
  if (code !== undefined) {
    // A failed session takes no more input, with a typed error, never a crash.
    let after: unknown;
    try {
      session.cycle(Buffer.from([0x16]));
    } catch (err) {
      after = err;
    }
    assert.is((after as TlsError | undefined)?.code, ErrorCode.State, 'a failed session refuses input');
  } else {
    // A clean state: the session still answers and can close.
    const info = session.info();
    assert.type(info.handshakeComplete, 'boolean');
    assert.type(session.shutdown(), 'number');
  }
  const secure = s.secure;
  session.free();
  return { kind: code === undefined ? 'clean' : 'error', ...(code !== undefined ? { code } : {}), secure };
}

type Target = 'server-first' | 'client-first' | 'server-mid' | 'established' | 'saved-session' | 'certificate' | 'random' | 'records';

/** Runs input `index`; returns what it did (for the statistics) and the bytes fed (for a failure report). */
function runInput(ctx: Contexts, seedsOf: Seeds, index: number, last: { bytes?: Buffer; target?: Target }): { target: Target; outcome: Outcome } {
  const rng = mulberry32(inputSeed(RUN_SEED, index));
  const roll = rng.int(100);
  const target: Target =
    roll < 33 ? 'server-first'
    : roll < 51 ? 'client-first'
    : roll < 59 ? 'server-mid'
    : roll < 66 ? 'established'
    : roll < 71 ? 'saved-session'
    : roll < 75 ? 'certificate'
    : roll < 88 ? 'random'
    : 'records';
  last.target = target;
  switch (target) {
    case 'server-first': {
      const bytes = mutate(rng, rng.pick(seedsOf.toServer), seedsOf.all);
      last.bytes = bytes;
      return { target, outcome: feed(rng, side(ctx.server, true), bytes) };
    }
    case 'client-first': {
      const client = side(rng.int(2) ? ctx.client : ctx.client12, false);
      take(client, client.session.cycle()); // its ClientHello, sent nowhere
      const bytes = mutate(rng, rng.pick(seedsOf.toClient), seedsOf.all);
      last.bytes = bytes;
      return { target, outcome: feed(rng, client, bytes) };
    }
    case 'server-mid': {
      // A real TLS 1.2 ClientHello and server flight, then the client's real
      // second flight, mutated, to the server; or the server's, to the client.
      const client = side(ctx.client12, false);
      const server = side(ctx.server, true);
      const hello = take(client, client.session.cycle())!;
      const serverFlight = take(server, server.session.cycle(hello))!;
      const clientFinish = take(client, client.session.cycle(serverFlight));
      if (rng.int(2) && clientFinish) {
        const bytes = mutate(rng, clientFinish, seedsOf.all);
        last.bytes = bytes;
        client.session.free();
        return { target, outcome: feed(rng, server, bytes) };
      }
      // The client, fresh: the live server flight mutated (its signature binds this hello).
      client.session.free();
      const fresh = side(ctx.client12, false);
      take(fresh, fresh.session.cycle());
      const bytes = mutate(rng, serverFlight, seedsOf.all);
      last.bytes = bytes;
      server.session.free();
      return { target, outcome: feed(rng, fresh, bytes) };
    }
    case 'established': {
      const tls12 = rng.int(2) === 1;
      const client = side(tls12 ? ctx.client12 : ctx.client, false);
      const server = side(ctx.server, true);
      pump(client, server);
      assert.ok(client.secure && server.secure, 'pair established');
      const toServer = rng.int(2) === 1;
      const from = toServer ? client : server;
      const payload = rng.bytes(rng.range(0, 2000));
      const record = take(from, from.session.write(payload.length ? payload : 'x'))!;
      const bytes = rng.int(8) === 0 ? Buffer.concat([record, rng.bytes(rng.range(1, 40))]) : mutate(rng, record, seedsOf.all);
      last.bytes = bytes;
      from.session.free();
      return { target, outcome: feed(rng, toServer ? server : client, bytes) };
    }
    case 'saved-session': {
      // A saved session is input too (applications keep them in shared
      // caches): a damaged one is refused with InvalidArgument or, if it
      // still decodes, offered in a ClientHello that the peer may ignore.
      const bytes = mutate(rng, rng.pick(seedsOf.sessions), seedsOf.all);
      last.bytes = bytes;
      const out: SessionOut = [undefined, undefined, undefined];
      let session: NativeSession;
      try {
        session = new binding.Session(rng.int(2) ? ctx.client : ctx.client12, false, out, { servername: 'localhost', session: bytes });
      } catch (err) {
        const code = checkError(err, 'new Session({ session })');
        assert.is(code, ErrorCode.InvalidArgument, 'a bad saved session is an invalid argument');
        return { target, outcome: { kind: 'error', code, secure: false } };
      }
      const client: Side = { session, out, clear: [], secure: false, peerClosed: false, error: undefined };
      const hello = take(client, client.session.cycle());
      if (!hello || rng.int(2)) return { target, outcome: feed(rng, client, mutate(rng, rng.pick(seedsOf.toClient), seedsOf.all)) };
      // Or a real server answers the hello that offers it.
      const server = side(ctx.server, true);
      pump(client, server, hello);
      const outcome = { kind: client.error ? ('error' as const) : ('clean' as const), ...(client.error ? { code: checkError(client.error, 'resume') } : {}), secure: client.secure };
      client.session.free();
      server.session.free();
      return { target, outcome };
    }
    case 'certificate': {
      // parseCertificate on damaged DER or PEM: a summary or InvalidArgument.
      const bytes = mutate(rng, rng.pick(seedsOf.certificates), seedsOf.all);
      last.bytes = bytes;
      try {
        const summary = binding.parseCertificate(bytes);
        assert.ok(Buffer.isBuffer(summary.raw), 'a summary with the DER');
        return { target, outcome: { kind: 'clean', secure: false } };
      } catch (err) {
        const code = checkError(err, 'parseCertificate');
        assert.is(code, ErrorCode.InvalidArgument, 'a bad certificate is an invalid argument');
        return { target, outcome: { kind: 'error', code, secure: false } };
      }
    }
    case 'random':
    case 'records': {
      const bytes = target === 'random' ? rng.bytes(rng.range(0, 2048)) : randomRecords(rng);
      last.bytes = bytes;
      if (rng.int(2)) return { target, outcome: feed(rng, side(ctx.server, true), bytes) };
      const client = side(ctx.client, false);
      take(client, client.session.cycle());
      return { target, outcome: feed(rng, client, bytes) };
    }
  }
}

// --- GC and memory

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settle(): Promise<void> {
  // Wrappers are finalised after GC, on a later turn of the loop.
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    if ((binding.debugCounters().Session ?? 0) === 0) break;
  }
}

const MiB = 1024 * 1024;

const Fuzz = suite('native fuzz');

Fuzz(`${ONLY !== undefined ? `input #${ONLY}` : `${INPUTS} inputs`} to server and client sessions end in a typed error or a clean state`, async () => {
  console.log(`fuzz seed: ${RUN_SEED} (repeat with RXTLS_FUZZ_SEED=${RUN_SEED})`);
  const ctx: Contexts = { server: serverContext(), client: clientContext(), client12: clientContext(0x0303) };
  const seedsOf = seeds(ctx);
  await settle();
  const sessionsBefore = binding.debugCounters().Session ?? 0;
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;

  const stats = new Map<string, number>();
  const bump = (k: string) => stats.set(k, (stats.get(k) ?? 0) + 1);
  const first = ONLY ?? 0;
  const end = ONLY !== undefined ? ONLY + 1 : INPUTS;
  const started = Date.now();
  for (let i = first; i < end; i++) {
    const last: { bytes?: Buffer; target?: Target } = {};
    try {
      const { target, outcome } = runInput(ctx, seedsOf, i, last);
      bump(`${target} ${outcome.kind}${outcome.code ? ` ${outcome.code}` : ''}${outcome.secure ? ' (secure)' : ''}`);
    } catch (err) {
      const file = join(tmpdir(), `rxtls-fuzz-${RUN_SEED}-${i}.bin`);
      if (last.bytes) writeFileSync(file, last.bytes);
      throw new Error(
        `fuzz input failed (${last.target ?? '?'}): repeat with RXTLS_FUZZ_SEED=${RUN_SEED} RXTLS_FUZZ_INPUT=${i}` +
          `${last.bytes ? `; bytes in ${file}` : ''}\n${(err as Error).stack ?? String(err)}`,
      );
    }
    // Collect now and then so a leak shows as growth, not as garbage.
    if (i % 5000 === 4999) gc();
  }
  const seconds = (Date.now() - started) / 1000;

  for (const c of Object.values(ctx)) c.free();
  await settle();
  const rssGrowth = (process.memoryUsage().rss - rssBefore) / MiB;
  const heapGrowth = (process.memoryUsage().heapUsed - heapBefore) / MiB;
  const counters = binding.debugCounters();
  console.log(`fuzz: ${end - first} inputs in ${seconds.toFixed(1)} s; RSS ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} MiB, heap ${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(1)} MiB; live native objects ${JSON.stringify(counters)}`);
  for (const [k, v] of [...stats].sort()) console.log(`  ${String(v).padStart(6)}  ${k}`);

  // Every family of input ran (a full run), and ended somewhere sane.
  if (ONLY === undefined && INPUTS >= 1000) {
    for (const t of ['server-first', 'client-first', 'server-mid', 'established', 'saved-session', 'certificate', 'random', 'records'])
      assert.ok([...stats.keys()].some((k) => k.startsWith(t)), `inputs of kind ${t} ran`);
  }
  // Under AddressSanitizer freed memory sits in its quarantine (up to 256 MiB): RSS says nothing there.
  if (!process.env.RXTLS_SANITIZED) assert.ok(rssGrowth < 64, `RSS grew ${rssGrowth.toFixed(1)} MiB (bounded memory)`);
  assert.is(counters.Session ?? 0, sessionsBefore, 'every session was released');
});

const ASYNC_INPUTS = envInt('RXTLS_FUZZ_ASYNC_INPUTS') ?? 1_000;

/**
 * Like feed(), through cycleAsync (the handshake step on libuv's thread pool):
 * while a step is in flight the session must refuse other calls with
 * ERR_TLS_STATE, and a free() then is deferred to the step's completion.
 */
/** What the offloaded inputs actually did, so the test can require that each part of it ran. */
interface AsyncCounts {
  /** cycleAsync calls (each feeds one chunk). */
  cycles: number;
  /** Inputs that fed at least one chunk. */
  fedInputs: number;
  /** Steps that went to the pool (cycleAsync returned -1). */
  inFlight: number;
  /** Calls refused with ERR_TLS_STATE while a step was in flight. */
  refusals: number;
  /** free() calls deferred to a step's completion. */
  deferredFrees: number;
}

async function feedAsync(rng: Rng, s: Side, input: Buffer, counts: AsyncCounts): Promise<Outcome> {
  const session = s.session as NativeSession & {
    cycleAsync(chunk: Uint8Array | null | undefined, length: number | undefined, callback: (flags: number) => void): number;
  };
  let code: string | undefined;
  let pos = 0;
  let freed = false;
  if (input.length > 0) counts.fedInputs++;
  while (pos < input.length && code === undefined && !freed) {
    const n = Math.min(rng.int(3) === 0 ? input.length : rng.range(1, 300), input.length - pos);
    let done!: (flags: number) => void;
    const completed = new Promise<number>((r) => (done = r));
    let flags: number;
    try {
      counts.cycles++;
      flags = session.cycleAsync(input.subarray(pos, pos + n), undefined, (f) => done(f));
    } catch (err) {
      code = checkError(err, 'cycleAsync threw');
      break;
    }
    if (flags === -1) {
      // In flight on the pool: every other call is refused meanwhile.
      counts.inFlight++;
      const during = rng.int(4);
      if (during === 0) {
        let refused: unknown;
        try {
          session.info();
        } catch (err) {
          refused = err;
        }
        assert.is((refused as TlsError | undefined)?.code, ErrorCode.State, 'calls are refused while a step is in flight');
        counts.refusals++;
      } else if (during === 1 && rng.int(4) === 0) {
        // Deferred until the step completes; then no callback comes (nobody waits).
        session.free();
        freed = true;
        counts.deferredFrees++;
        await withTimeout(
          (async () => {
            while (!session.isFreed()) await new Promise((r) => setImmediate(r));
          })(),
          10_000,
          'deferred free() completes',
        );
        break;
      }
      flags = await withTimeout(completed, 10_000, 'offloaded handshake step completes');
    }
    if (freed) break;
    assert.ok(Number.isInteger(flags) && flags >= 0, 'flag bits');
    take(s, flags);
    if (flags & CycleFlag.Error) code = checkError(s.error, 'cycleAsync error');
    pos += n;
  }
  if (freed) {
    assert.ok(session.isFreed(), 'a deferred free() happened at completion');
    return { kind: 'clean', secure: s.secure };
  }
  const secure = s.secure;
  session.free();
  return { kind: code === undefined ? 'clean' : 'error', ...(code !== undefined ? { code } : {}), secure };
}

async function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, j) => (timer = setTimeout(() => j(new Error(`${label}: no result after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

Fuzz(`${ASYNC_INPUTS} inputs through offloaded handshakes (cycleAsync): typed errors, refusals while in flight, deferred free`, async () => {
  const probeCtx = serverContext();
  const probe = side(probeCtx, true);
  const hasAsync = typeof (probe.session as unknown as { cycleAsync?: unknown }).cycleAsync === 'function';
  probe.session.free();
  // handshakeOffload is built on it: an addon without it is a failure, not a skip.
  assert.ok(hasAsync, 'the addon has Session.cycleAsync');
  assert.ok(ASYNC_INPUTS > 0, 'RXTLS_FUZZ_ASYNC_INPUTS is at least 1 (0 would test nothing)');
  const ctx: Contexts = { server: probeCtx, client: clientContext(), client12: clientContext(0x0303) };
  const seedsOf = seeds(ctx);
  await settle();
  const before = binding.debugCounters().Session ?? 0;
  const stats = new Map<string, number>();
  const counts: AsyncCounts = { cycles: 0, fedInputs: 0, inFlight: 0, refusals: 0, deferredFrees: 0 };
  let nonEmpty = 0;
  for (let i = 0; i < ASYNC_INPUTS; i++) {
    const rng = mulberry32(inputSeed(RUN_SEED ^ 0x5a5a5a5a, i));
    let bytes: Buffer = Buffer.alloc(0);
    try {
      // Half the time an intact ClientHello (a real handshake step on the pool), else a mutated one.
      const seed = rng.pick(seedsOf.toServer);
      bytes = rng.int(2) ? Buffer.from(seed) : mutate(rng, seed, seedsOf.all);
      if (bytes.length > 0) nonEmpty++;
      const o = await feedAsync(rng, side(ctx.server, true), bytes, counts);
      const k = `${o.kind}${o.code ? ` ${o.code}` : ''}`;
      stats.set(k, (stats.get(k) ?? 0) + 1);
    } catch (err) {
      const file = join(tmpdir(), `rxtls-fuzz-async-${RUN_SEED}-${i}.bin`);
      writeFileSync(file, bytes);
      throw new Error(`offloaded fuzz input failed: repeat with RXTLS_FUZZ_SEED=${RUN_SEED} (async input ${i}); bytes in ${file}\n${(err as Error).stack}`);
    }
  }
  for (const c of Object.values(ctx)) c.free();
  await settle();
  console.log(`  offloaded: ${[...stats].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  console.log(`  offloaded: ${JSON.stringify(counts)} from ${nonEmpty} non-empty of ${ASYNC_INPUTS} inputs`);
  // Each input was really fed, and the pool path was really taken: a loop
  // that fed nothing, or steps that never went to the pool, fail here.
  assert.ok(nonEmpty > 0, 'some inputs are non-empty');
  assert.is(counts.fedInputs, nonEmpty, 'every non-empty input was fed to cycleAsync');
  assert.ok(counts.cycles >= nonEmpty, `at least one cycleAsync per non-empty input (${counts.cycles} for ${nonEmpty})`);
  assert.ok(counts.inFlight > 0, 'handshake steps went to the thread pool');
  // Half the inputs are intact ClientHellos, each a step on the pool; a
  // quarter of those steps check the refusal and one in sixteen the deferred
  // free: with 100 inputs or more, missing either means it never ran.
  if (ASYNC_INPUTS >= 100) {
    assert.ok(counts.refusals > 0, 'calls made while a step was in flight were refused');
    assert.ok(counts.deferredFrees > 0, 'free() during a step was deferred');
  }
  // `before` may still count sessions of the previous test that GC had not
  // reached yet; none of this test's may remain.
  assert.ok((binding.debugCounters().Session ?? 0) <= before, 'every session released');
});

Fuzz.run();
