// Latency samples in Node's own HDR histogram (perf_hooks.createHistogram):
// constant memory however long a run is, 3 significant digits.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Latency of a run, in milliseconds. */
export interface LatencySummary {
  /** Samples recorded. */
  count: number;
  /** Average. */
  mean: number;
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Largest sample. */
  max: number;
}

/** Records durations in microseconds; summarises them in milliseconds. */
export class Latency {
  private readonly h: RecordableHistogram = createHistogram();

  /** Records one duration in microseconds (the histogram's floor is 1 µs). */
  record(us: number): void {
    this.h.record(Math.max(1, Math.round(us)));
  }

  /** Samples recorded. */
  get count(): number {
    return this.h.count;
  }

  /** p50/p90/p99/max/mean in milliseconds; zeros when nothing was recorded. */
  summary(): LatencySummary {
    const count = this.h.count;
    if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const ms = (us: number) => Math.round(us) / 1000;
    const max = this.h.max;
    // A percentile is its bucket's upper edge: never report one above the maximum.
    const at = (p: number) => ms(Math.min(this.h.percentile(p), max));
    return { count, mean: ms(Math.min(this.h.mean, max)), p50: at(50), p90: at(90), p99: at(99), max: ms(max) };
  }
}
