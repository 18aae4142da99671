// A fixed-size log-linear latency histogram (HdrHistogram's idea, small):
// values in microseconds, exact below 64 µs, then 32 sub-buckets per power
// of two (about 3 % relative error). Memory stays constant however long a
// run is, which is what keeps the load generator bounded.

const LINEAR = 64;
const SUB = 32;
const SUB_BITS = 5;
const POWERS = 32; // up to 2^37 µs: far beyond any run's duration
const SIZE = LINEAR + POWERS * SUB;

/** Summary of a histogram, in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export class Histogram {
  private readonly counts_ = new Float64Array(SIZE);
  private count_ = 0;
  private sum_ = 0;
  private max_ = 0;

  /** Records one value in microseconds (fractions are truncated, negatives clamp to 0). */
  record(us: number): void {
    const v = us > 0 ? Math.floor(us) : 0;
    this.counts_[indexOf(v)]! += 1;
    this.count_++;
    this.sum_ += v;
    if (v > this.max_) this.max_ = v;
  }

  get count(): number {
    return this.count_;
  }

  /** The value (µs) at or below which `q` (0..1) of the recorded values lie; 0 when empty. */
  quantile(q: number): number {
    if (this.count_ === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count_));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts_[i]!;
      // The bucket's upper bound, capped by the exact maximum.
      if (seen >= rank) return Math.min(upperOf(i), this.max_);
    }
    return this.max_;
  }

  /** Adds another histogram's counts to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < SIZE; i++) this.counts_[i]! += other.counts_[i]!;
    this.count_ += other.count_;
    this.sum_ += other.sum_;
    if (other.max_ > this.max_) this.max_ = other.max_;
  }

  /** p50/p90/p99/max/mean in milliseconds. */
  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: this.count_,
      mean: this.count_ ? ms(this.sum_ / this.count_) : 0,
      p50: ms(this.quantile(0.5)),
      p90: ms(this.quantile(0.9)),
      p99: ms(this.quantile(0.99)),
      max: ms(this.max_),
    };
  }
}

function indexOf(v: number): number {
  if (v < LINEAR) return v;
  // e: position of v's highest bit (>= 6); keep the next SUB_BITS bits below it.
  let e = Math.floor(Math.log2(v));
  if (2 ** e > v) e--; // log2 may round up just below a power of two
  const shift = e - SUB_BITS;
  const sub = Math.floor(v / 2 ** shift) - SUB; // 0..31
  const i = LINEAR + (e - 6) * SUB + sub;
  return i < SIZE ? i : SIZE - 1;
}

function upperOf(i: number): number {
  if (i < LINEAR) return i;
  const e = Math.floor((i - LINEAR) / SUB) + 6;
  const sub = (i - LINEAR) % SUB;
  const shift = e - SUB_BITS;
  return (SUB + sub + 1) * 2 ** shift - 1;
}
