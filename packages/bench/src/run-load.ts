// The load generator: many rxtls client connections (connectTls over one
// shared client context, on the native transport unless told otherwise)
// driving a TLS server in one of a few patterns, with a warm-up, a measured
// window, and hard limits on time, counts and targets.
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';

import { connectTls, TLSClientContext, type ClientOptions, type SecureConnection, type Transport } from '@rxtls/core';

import { HttpResponseReader } from './http-response.js';
import { Latency, type LatencySummary } from './latency.js';
import { PlainConn, type Conn } from './plain-conn.js';
import { sessionSupport, type SessionSupport } from './session-support.js';
import { resolveTarget, type Target } from './target.js';

/**
 * What the connections do: `handshake` (connect, handshake, close), `echo`
 * (send `size` bytes, wait for them back), `http` (GET `path`), `upload` /
 * `download` (the bench stream protocol), `hold` (open and stay idle).
 */
export type LoadMode = 'handshake' | 'echo' | 'http' | 'upload' | 'download' | 'hold';
/** Every {@link LoadMode}. */
export const LOAD_MODES: readonly LoadMode[] = ['handshake', 'echo', 'http', 'upload', 'download', 'hold'];

/** Hard ceilings: the generator is a benchmark tool, never a flood tool. */
export const LIMITS = {
  /** Concurrent connections. */
  connections: 20_000,
  /** Measured (or hold) seconds. */
  durationSec: 600,
  /** echo message size. */
  messageBytes: 16 * 1024 * 1024,
  /** upload/download transfer size. */
  transferBytes: 4 * 1024 ** 3,
} as const;

/** What {@link runLoad} does; start from {@link DEFAULTS}. */
export interface LoadOptions {
  /** Host name or IP address of the server; a name is resolved once for the run. */
  host: string;
  /** TCP port of the server. */
  port: number;
  /** What the connections do. */
  mode: LoadMode;
  /** Targets off loopback are refused unless this is true. */
  allowRemote?: boolean;
  /** Concurrent connections (handshake: in flight; hold: to establish). */
  connections: number;
  /** Measured seconds (handshake, echo, http). */
  duration: number;
  /** Unmeasured seconds before (bulk modes: a smaller transfer first). */
  warmup: number;
  /** echo: message bytes; upload/download: bytes in the measured transfer. */
  size: number;
  /** echo/http: open a new connection for every request. */
  newConnection: boolean;
  /** handshake/echo/http with newConnection: offer the last session ticket. */
  resume: boolean;
  /** Stop after this many measured requests (or handshakes); 0 = no limit. */
  maxRequests: number;
  /** http: request path. */
  path: string;
  /** hold: the longest the connections are held, seconds. */
  hold: number;
  /** SNI to send, and the name the certificate must match; default `host` when it is a name. */
  servername?: string;
  /** Extra trusted CA certificates, PEM, besides the system store. */
  ca?: string;
  /** Do not verify the server's certificate (self-signed test servers). */
  insecure?: boolean;
  /** Plain TCP instead of TLS (the ceiling a TLS engine on net.Socket can reach). */
  plain?: boolean;
  /**
   * The rxtls transport of the client connections: `'native'` (default; the
   * socket in the addon, NativeTlsConnection) or `'js'` (TlsEngine over a
   * net.Socket, the load generator before the native transport).
   */
  transport?: Transport;
  /** Progress and phase markers. */
  onEvent?: (event: LoadEvent) => void;
  /** hold: ends the hold early. */
  signal?: AbortSignal;
}

/**
 * Progress and phase markers of a run (`onEvent`): `measure-start` and
 * `measure-end` bound the measured window; `established` (hold) says how many
 * connections are up; `progress` comes once a second with the counts so far
 * (of the measured window) and the errors of the whole run.
 */
export type LoadEvent =
  | { event: 'measure-start' }
  | { event: 'measure-end' }
  | { event: 'established'; connections: number; failed: number }
  | {
      event: 'progress';
      phase: 'warmup' | 'measuring' | 'holding' | 'closing';
      /** Seconds since the measured window started (0 before it). */
      elapsedSec: number;
      handshakes: number;
      requests: number;
      bytes: number;
      established: number;
      errors: number;
    };

/** What a run measured. Counts are of the measured window only. */
export interface LoadResult {
  /** The mode that ran. */
  mode: LoadMode;
  /** `host:port` as given. */
  target: string;
  /** The address the connections went to. */
  address: string;
  /** Concurrent connections asked for. */
  connections: number;
  /** Whether every request had a connection of its own. */
  newConnection: boolean;
  /** echo: message bytes; upload/download: transfer bytes. */
  size: number;
  /** Whether the server's certificate was verified. */
  verified: boolean;
  /** Length of the measured window, seconds. */
  seconds: number;
  /** Handshakes completed. */
  handshakes: number;
  /** Of those, resumed ones (with `resume`). */
  resumed: number;
  /** Requests answered (echo messages, HTTP responses, transfers). */
  requests: number;
  /** Plaintext bytes written. */
  bytesSent: number;
  /** Plaintext bytes read. */
  bytesReceived: number;
  /** Failed connections or requests (the whole run, not only the window). */
  errors: number;
  /** The message of the first error, or null. */
  firstError: string | null;
  /** `handshakes` per measured second. */
  handshakesPerSec: number;
  /** `requests` per measured second. */
  requestsPerSec: number;
  /** Sent plus received plaintext per second. */
  bytesPerSec: number;
  /** `bytesSent` per measured second. */
  sentBytesPerSec: number;
  /** `bytesReceived` per measured second. */
  receivedBytesPerSec: number;
  /** Per request (echo, http), per handshake (handshake), per transfer (bulk). */
  latency: LatencySummary;
  /** hold: connections established. */
  established: number;
  /** What the first TLS connection negotiated (protocol version, cipher suite, key exchange group); null with `plain`. */
  tls: { protocol: string | null; cipher: string | null; group: string | null } | null;
  /** Whether resumption was asked for and the client side supports it. */
  resumeSupported: boolean | null;
  /** The client connections' rxtls transport; null with `plain`. */
  transport: Transport | null;
}

/** The defaults of every option but the target and the mode. */
export const DEFAULTS: Omit<LoadOptions, 'host' | 'port' | 'mode'> = {
  connections: 50,
  duration: 5,
  warmup: 1,
  size: 64,
  newConnection: false,
  resume: false,
  maxRequests: 0,
  path: '/',
  hold: 60,
  transport: 'native',
};

/** Throws a RangeError naming the first option out of its range. */
export function checkOptions(o: LoadOptions): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  };
  int('port', o.port, 1, 65535);
  int('connections', o.connections, 1, LIMITS.connections);
  if (!(o.duration > 0 && o.duration <= LIMITS.durationSec)) throw new RangeError(`duration must be in (0, ${LIMITS.durationSec}] s`);
  if (!(o.warmup >= 0 && o.warmup <= 60)) throw new RangeError('warmup must be in [0, 60] s');
  if (!(o.hold > 0 && o.hold <= LIMITS.durationSec)) throw new RangeError(`hold must be in (0, ${LIMITS.durationSec}] s`);
  const maxSize = o.mode === 'upload' || o.mode === 'download' ? LIMITS.transferBytes : LIMITS.messageBytes;
  int('size', o.size, 1, maxSize);
  int('maxRequests', o.maxRequests, 0, Number.MAX_SAFE_INTEGER);
  if (!LOAD_MODES.includes(o.mode)) throw new RangeError(`mode must be one of ${LOAD_MODES.join(', ')}`);
  if (o.transport !== undefined && o.transport !== 'js' && o.transport !== 'native') throw new RangeError('transport must be js or native');
}

const now = () => performance.now();

/**
 * Runs one load pattern against `host:port` and resolves with what it
 * measured. Refuses (UsageError) a target off loopback without `allowRemote`.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  checkOptions(options);
  const target = await resolveTarget(options.host, options.port, options.allowRemote ?? false);
  return new LoadRun(options, target).run();
}

class LoadRun {
  private readonly o: LoadOptions;
  private readonly target: Target;
  /** SNI and the name verified: the name given, else none (an IP target verifies its IP). */
  private readonly servername: string | undefined;
  private readonly context = new TLSClientContext();
  private readonly hist = new Latency();
  private readonly active = new Set<Conn>();
  private readonly sessions: SessionSupport | null;
  private session: unknown = undefined;
  private running = true;
  private measuring = false;
  private tMeasure0 = 0;
  private tMeasure1 = 0;
  private handshakes = 0;
  private resumed = 0;
  private requests = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private errors = 0;
  private firstError: string | null = null;
  private established = 0;
  private tls: LoadResult['tls'] = null;
  private readonly message: Buffer;
  private readonly request: Buffer;
  private readonly transport: Transport;

  constructor(o: LoadOptions, target: Target) {
    this.o = o;
    this.transport = o.transport ?? 'native';
    this.target = target;
    this.servername = o.servername ?? (isIP(o.host) ? undefined : o.host);
    if (o.ca) this.context.set_verify_locations(o.ca);
    this.sessions = o.resume ? sessionSupport(this.transport) : null;
    this.message = Buffer.alloc(o.mode === 'echo' ? o.size : 1, 'x');
    const hostHeader = isIP(o.host) === 6 ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`;
    this.request = Buffer.from(
      `GET ${o.path} HTTP/1.1\r\nHost: ${hostHeader}\r\n${o.newConnection ? 'Connection: close\r\n' : ''}\r\n`,
      'latin1',
    );
  }

  async run(): Promise<LoadResult> {
    const o = this.o;
    // A run can never outlive its own budget, whatever the server does.
    const budgetMs = (o.warmup + (o.mode === 'hold' ? o.hold : o.duration) + 60) * 1000;
    const guard = setTimeout(() => this.abort('the run exceeded its time budget'), budgetMs);
    guard.unref();
    const progress = setInterval(() => this.progress(), 1000);
    try {
      switch (o.mode) {
        case 'handshake':
        case 'echo':
        case 'http':
          await this.timed();
          break;
        case 'upload':
        case 'download':
          await this.bulk(o.mode);
          break;
        case 'hold':
          await this.holdConnections();
          break;
      }
    } finally {
      clearTimeout(guard);
      clearInterval(progress);
      this.running = false;
      await this.closeAll();
      // Not while a connection still holds it: closeAll waited for their close (bounded).
      this.context.free();
    }
    return this.result();
  }

  // ---- measured-window modes ----

  private async timed(): Promise<void> {
    const o = this.o;
    // No warm-up: the window opens before the first connection (a handshake may beat a 0 ms timer).
    if (o.warmup === 0) this.startMeasure();
    for (let i = 0; i < o.connections; i++) this.startWorker();
    if (o.warmup > 0) {
      await sleep(o.warmup * 1000);
      this.startMeasure();
    }
    await this.waitMeasured(o.duration * 1000);
    this.endMeasure();
  }

  private async waitMeasured(ms: number): Promise<void> {
    const end = now() + ms;
    while (this.running && now() < end) {
      if (this.o.maxRequests > 0 && this.requests + this.handshakesOnly() >= this.o.maxRequests) break;
      await sleep(Math.min(50, Math.max(1, end - now())));
    }
  }

  private handshakesOnly(): number {
    return this.o.mode === 'handshake' ? this.handshakes : 0;
  }

  private startMeasure(): void {
    this.measuring = true;
    this.tMeasure0 = now();
    this.o.onEvent?.({ event: 'measure-start' });
  }

  private endMeasure(): void {
    this.measuring = false;
    this.tMeasure1 = now();
    this.o.onEvent?.({ event: 'measure-end' });
  }

  private progress(): void {
    const started = this.tMeasure0 > 0;
    this.o.onEvent?.({
      event: 'progress',
      phase: !started ? 'warmup' : !this.measuring ? 'closing' : this.o.mode === 'hold' ? 'holding' : 'measuring',
      elapsedSec: started ? ((this.tMeasure1 || now()) - this.tMeasure0) / 1000 : 0,
      handshakes: this.handshakes,
      requests: this.requests,
      bytes: this.bytesSent + this.bytesReceived,
      established: this.established,
      errors: this.errors,
    });
  }

  private open(): Conn {
    const o = this.o;
    if (o.plain) {
      const conn = new PlainConn(this.target.address, o.port);
      this.active.add(conn);
      return conn;
    }
    const options: ClientOptions & { transport: 'js' } = {
      transport: 'js', // the load client measures over TlsEngine (as before the native default)
      host: this.target.address,
      port: o.port,
      context: this.context,
      verifyPeer: o.insecure !== true,
      verifyHost: this.servername ?? o.host,
      handshakeTimeout: 10_000,
      ...(this.servername !== undefined ? { servername: this.servername } : {}),
    };
    if (this.sessions && this.session !== undefined) this.sessions.offer(options, this.session);
    // Always named: @rxtls/core's own default may change.
    const conn: SecureConnection = this.transport === 'native' ? connectTls({ ...options, transport: 'native' }) : connectTls({ ...options, transport: 'js' });
    // Keep the newest ticket: a TLS 1.3 server sends it after the handshake.
    this.sessions?.capture(conn, (s) => (this.session = s));
    this.active.add(conn);
    return conn;
  }

  private onSecure(conn: Conn, t0: number, recordHandshake: boolean): void {
    if ((this.tls === null || this.sessions) && isTls(conn)) {
      const info = conn.info();
      this.tls ??= { protocol: info.protocol, cipher: info.cipherStandardName ?? info.cipher, group: info.group ?? null };
      if (this.sessions && this.measuring && info.resumed) this.resumed++;
    }
    if (this.measuring) {
      this.handshakes++;
      if (recordHandshake) this.hist.record((now() - t0) * 1000);
    }
  }

  private onError(message: string): void {
    if (!this.running) return;
    this.errors++;
    this.firstError ??= message;
  }

  /**
   * write() that cannot throw out of a handler: a connection that failed or
   * closed under us (the native transport throws then) counts an error and
   * is destroyed, and its onclose restarts the slot.
   */
  private write(conn: Conn, data: Buffer | string): boolean {
    try {
      return conn.write(data);
    } catch (err) {
      this.onError((err as Error).message);
      conn.destroy();
      return true;
    }
  }

  /** Starts one connection slot; it keeps itself busy until the run stops. */
  private startWorker(): void {
    if (!this.running) return;
    switch (this.o.mode) {
      case 'handshake':
        return this.handshakeOnce();
      case 'echo':
        return this.echoConnection();
      case 'http':
        return this.httpConnection();
      default:
        throw new Error(`no worker for mode ${this.o.mode}`);
    }
  }

  /** A slot whose connection closed starts again; after an error, a little later. */
  private restart(failed: boolean): void {
    if (!this.running) return;
    if (failed) setTimeout(() => this.startWorker(), 20);
    else setImmediate(() => this.startWorker());
  }

  private handshakeOnce(): void {
    const t0 = now();
    const conn = this.open();
    let failed = false;
    let counted = false;
    conn.onsecure = () => {
      counted = true;
      this.onSecure(conn, t0, true);
      conn.end();
    };
    conn.onerror = (err) => {
      // Once the handshake is counted, how the server closes (nginx skips close_notify) is not this test's business.
      if (counted) return;
      failed = true;
      this.onError(err.message);
    };
    conn.onclose = () => {
      this.active.delete(conn);
      this.restart(failed);
    };
  }

  private echoConnection(): void {
    const o = this.o;
    const conn = this.open();
    const tConnect = now();
    let t0 = 0;
    let pending = 0;
    let failed = false;
    const send = () => {
      t0 = now();
      pending = o.size;
      if (this.measuring) this.bytesSent += o.size;
      this.write(conn, this.message);
    };
    conn.onsecure = () => {
      this.onSecure(conn, tConnect, false);
      send();
    };
    conn.ondata = (chunk) => {
      if (this.measuring) this.bytesReceived += chunk.length;
      pending -= chunk.length;
      if (pending > 0) return;
      if (this.measuring) {
        this.requests++;
        // With a new connection per request, latency includes the handshake.
        this.hist.record((now() - (o.newConnection ? tConnect : t0)) * 1000);
      }
      if (!o.newConnection && this.running && !conn.closed) send();
      else conn.end();
    };
    conn.onerror = (err) => {
      failed = true;
      this.onError(err.message);
    };
    conn.onclose = () => {
      this.active.delete(conn);
      this.restart(failed);
    };
  }

  private httpConnection(): void {
    const o = this.o;
    const conn = this.open();
    const tConnect = now();
    const reader = new HttpResponseReader();
    let t0 = 0;
    let failed = false;
    let done = false;
    const send = () => {
      t0 = now();
      if (this.measuring) this.bytesSent += this.request.length;
      this.write(conn, this.request);
    };
    const complete = (n: number) => {
      for (let i = 0; i < n; i++) {
        if (this.measuring) {
          this.requests++;
          if (reader.status >= 400) this.onError(`HTTP status ${reader.status}`);
          this.hist.record((now() - (o.newConnection ? tConnect : t0)) * 1000);
        }
      }
      if (n === 0) return;
      if (!o.newConnection && this.running) send();
      else {
        done = true;
        conn.end();
      }
    };
    conn.onsecure = () => {
      this.onSecure(conn, tConnect, false);
      send();
    };
    conn.ondata = (chunk) => {
      if (this.measuring) this.bytesReceived += chunk.length;
      try {
        complete(reader.push(chunk));
      } catch (err) {
        this.onError((err as Error).message);
        conn.destroy();
      }
    };
    conn.onend = () => {
      if (!done) complete(reader.end());
    };
    conn.onerror = (err) => {
      // A server that closes after `Connection: close` without close_notify is not an error once the response is in.
      if (done) return;
      failed = true;
      this.onError(err.message);
    };
    conn.onclose = () => {
      this.active.delete(conn);
      this.restart(failed);
    };
  }

  // ---- bulk transfer ----

  /**
   * The bench stream protocol: the client sends `up N\n` then N bytes and the
   * server answers `ok\n`; or `down N\n` and the server sends N bytes.
   */
  private async bulk(direction: 'upload' | 'download'): Promise<void> {
    const o = this.o;
    const conn = this.open();
    await new Promise<void>((resolve, reject) => {
      conn.onsecure = () => {
        this.onSecure(conn, now(), false);
        resolve();
      };
      conn.onerror = (err) => reject(err);
      conn.onclose = (err) => reject(err ?? new Error('connection closed'));
    });
    const warm = Math.min(Math.ceil(o.size / 8), 16 * 1024 * 1024);
    if (o.warmup > 0) await this.transfer(conn, direction, warm, false);
    this.startMeasure();
    const t0 = now();
    await this.transfer(conn, direction, o.size, true);
    this.hist.record((now() - t0) * 1000);
    this.endMeasure();
    this.requests++;
  }

  private transfer(conn: Conn, direction: 'upload' | 'download', size: number, count: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let received = 0;
      const ack = Buffer.from('ok\n');
      const fail = (err: Error) => {
        conn.ondrain = undefined;
        reject(err);
      };
      conn.onerror = fail;
      conn.onclose = (err) => fail(err ?? new Error('connection closed during the transfer'));
      conn.ondata = (chunk) => {
        received += chunk.length;
        if (count && direction === 'download') this.bytesReceived += chunk.length;
        const target = direction === 'download' ? size : ack.length;
        if (received < target) return;
        conn.ondrain = undefined;
        resolve();
      };
      try {
        conn.write(`${direction === 'upload' ? 'up' : 'down'} ${size}\n`);
        if (direction === 'download') return;
        const chunk = Buffer.alloc(64 * 1024, 'u');
        let sent = 0;
        // ondrain (not a socket event: a native connection has no net.Socket) resumes after write() returned false.
        const pump = () => {
          try {
            while (sent < size) {
              const n = Math.min(chunk.length, size - sent);
              sent += n;
              if (count) this.bytesSent += n;
              if (!conn.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return;
            }
            conn.ondrain = undefined;
          } catch (err) {
            fail(err as Error);
          }
        };
        conn.ondrain = pump;
        pump();
      } catch (err) {
        fail(err as Error);
      }
    });
  }

  // ---- idle connections ----

  private async holdConnections(): Promise<void> {
    const o = this.o;
    let failed = 0;
    let next = 0;
    const inFlight = Math.min(o.connections, 100);
    await new Promise<void>((resolve) => {
      let settled = 0;
      const openOne = () => {
        if (next >= o.connections || !this.running) return;
        next++;
        const conn = this.open();
        let counted = false;
        const settle = (ok: boolean) => {
          if (counted) return;
          counted = true;
          if (ok) this.established++;
          else failed++;
          settled++;
          if (settled === o.connections) resolve();
          else openOne();
        };
        conn.onsecure = () => {
          this.onSecure(conn, 0, false);
          settle(true);
        };
        conn.onerror = (err) => this.onError(err.message);
        conn.onclose = () => {
          this.active.delete(conn);
          settle(false);
        };
      };
      for (let i = 0; i < inFlight; i++) openOne();
    });
    this.o.onEvent?.({ event: 'established', connections: this.established, failed });
    this.startMeasure();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.hold * 1000);
      o.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
      if (o.signal?.aborted) resolve();
    });
    this.endMeasure();
  }

  // ---- teardown and result ----

  private abort(reason: string): void {
    this.onError(reason);
    this.running = false;
    for (const e of this.active) e.destroy();
  }

  private async closeAll(): Promise<void> {
    for (const e of this.active) {
      e.onclose = () => this.active.delete(e);
      e.onerror = undefined;
      try {
        if (e.secure) e.end();
        else e.destroy();
      } catch {
        e.destroy();
      }
    }
    const deadline = now() + 3000;
    while (this.active.size > 0 && now() < deadline) await sleep(20);
    for (const e of this.active) e.destroy();
    // A destroyed connection closes on a later turn of the loop: let it, briefly, before the context is freed.
    const closing = now() + 1000;
    while (this.active.size > 0 && now() < closing) await sleep(10);
    this.active.clear();
  }

  private result(): LoadResult {
    const o = this.o;
    const seconds = Math.max(1e-9, (this.tMeasure1 || now()) - this.tMeasure0) / 1000;
    return {
      mode: o.mode,
      target: isIP(o.host) === 6 ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`,
      address: this.target.address,
      connections: o.connections,
      newConnection: o.newConnection,
      size: o.size,
      verified: !o.plain && o.insecure !== true,
      seconds: round(seconds, 4),
      handshakes: this.handshakes,
      resumed: this.resumed,
      requests: this.requests,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      errors: this.errors,
      firstError: this.firstError,
      handshakesPerSec: round(this.handshakes / seconds, 1),
      requestsPerSec: round(this.requests / seconds, 1),
      bytesPerSec: Math.round((this.bytesSent + this.bytesReceived) / seconds),
      sentBytesPerSec: Math.round(this.bytesSent / seconds),
      receivedBytesPerSec: Math.round(this.bytesReceived / seconds),
      latency: this.hist.summary(),
      established: this.established,
      tls: this.tls,
      resumeSupported: o.resume ? this.sessions !== null && this.sessions.available : null,
      transport: o.plain ? null : this.transport,
    };
  }
}

/** A TLS connection of either transport (not the plain TCP client). */
function isTls(conn: Conn): conn is SecureConnection {
  return !(conn instanceof PlainConn);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
