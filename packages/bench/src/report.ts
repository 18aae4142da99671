// The final table of a run, and the one-line live progress.
import type { LoadEvent, LoadMode, LoadResult } from './run-load.js';

const MiB = 1024 * 1024;

function bytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

const fixed = (n: number) => (n === 0 ? '0' : n >= 100 ? n.toFixed(0) : n.toFixed(1));

/** Right-aligned columns after a left-aligned first one. */
function columns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ').trimEnd()).join('\n');
}

/** What a run measured, as the table printed at its end. */
export function resultTable(r: LoadResult): string {
  const what =
    r.mode === 'echo' ? `echo ${bytes(r.size)}` : r.mode === 'upload' || r.mode === 'download' ? `${r.mode} ${bytes(r.size)}` : r.mode;
  const head = [
    `${what} against ${r.target}${r.address !== r.target.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') ? ` (${r.address})` : ''}: ` +
      `${r.connections} connection(s)${r.newConnection ? ', a new connection per request' : ''}, ${r.seconds.toFixed(2)} s measured`,
  ];
  if (r.tls)
    head.push(
      `${r.tls.protocol ?? '?'} ${r.tls.cipher ?? '?'}${r.tls.group ? ` ${r.tls.group}` : ''}, server certificate ${r.verified ? 'verified' : 'NOT verified (--insecure)'}` +
        (r.transport ? `, client on the ${r.transport} transport` : ''),
    );
  const rows: string[][] = [['', 'total', 'per second']];
  rows.push(['handshakes', String(r.handshakes), fixed(r.handshakesPerSec)]);
  if (r.resumed || r.resumeSupported !== null) rows.push(['  resumed', String(r.resumed), '']);
  rows.push(['requests', String(r.requests), fixed(r.requestsPerSec)]);
  rows.push(['bytes sent', bytes(r.bytesSent), `${bytes(r.sentBytesPerSec)}/s`]);
  rows.push(['bytes received', bytes(r.bytesReceived), `${bytes(r.receivedBytesPerSec)}/s`]);
  if (r.mode === 'hold') rows.push(['established', String(r.established), '']);
  rows.push(['errors', String(r.errors), '']);
  const l = r.latency;
  const lat = columns([
    ['latency (ms)', 'p50', 'p90', 'p99', 'max', 'mean', 'samples'],
    ['', ...[l.p50, l.p90, l.p99, l.max, l.mean].map((v) => v.toFixed(3)), String(l.count)],
  ]);
  const tail: string[] = [];
  if (r.resumeSupported === false) tail.push('resume: not supported by this @rxtls/core, full handshakes only');
  if (r.errors) tail.push(`first error: ${r.firstError}`);
  return [...head, '', columns(rows), '', lat, ...(tail.length ? ['', ...tail] : [])].join('\n');
}

type Progress = Extract<LoadEvent, { event: 'progress' }>;

/** Turns the once-a-second progress events into lines with the rates of the last second. */
export class ProgressText {
  private last: Progress | undefined;
  private readonly duration: number;
  private readonly show: { handshakes: boolean; requests: boolean; bytes: boolean };

  /** `duration`: the measured (or hold) seconds; the mode picks the rates shown. */
  constructor(duration: number, mode: LoadMode, newConnection: boolean) {
    this.duration = duration;
    const bulk = mode === 'upload' || mode === 'download';
    this.show = {
      handshakes: mode === 'handshake' || newConnection,
      requests: mode === 'echo' || mode === 'http',
      bytes: mode === 'echo' || bulk,
    };
  }

  /** The line for one progress event. */
  line(e: Progress): string {
    const prev = this.last && this.last.phase === e.phase ? this.last : undefined;
    this.last = e;
    if (e.phase === 'warmup') return `warm-up${e.established ? ` · ${e.established} established` : ''}${e.errors ? ` · ${e.errors} errors` : ''}`;
    const dt = prev ? Math.max(1e-3, e.elapsedSec - prev.elapsedSec) : Math.max(1e-3, e.elapsedSec);
    const rate = (now: number, before: number | undefined) => fixed((now - (before ?? 0)) / dt);
    const parts = [`${e.phase} ${e.elapsedSec.toFixed(0)}/${this.duration} s`];
    if (e.established) parts.push(`${e.established} established`);
    if (this.show.handshakes) parts.push(`${rate(e.handshakes, prev?.handshakes)} handshakes/s`);
    if (this.show.requests) parts.push(`${rate(e.requests, prev?.requests)} req/s`);
    if (this.show.bytes) parts.push(`${bytes((e.bytes - (prev?.bytes ?? 0)) / dt)}/s`);
    if (e.errors) parts.push(`${e.errors} errors`);
    return parts.join(' · ');
  }
}
