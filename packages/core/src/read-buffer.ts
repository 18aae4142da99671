// The bytes a Socket or TLSSocket has received but nobody has read yet, and
// the reads waiting for them. Reads are served in call order; a read that
// times out leaves the buffer untouched, so nothing is lost.
import { TimeoutError, type TlsError } from './errors.js';
import { utf8Boundary } from './utf8.js';

/** How a read wants its bytes. */
export interface ReadRequest {
  /** Bytes that must be buffered before the read resolves (Infinity: until the end of the stream). */
  min: number;
  /** Most bytes to hand out; -1 for everything buffered. */
  max: number;
  /** Text reads of everything buffered (`max` -1) never end inside a UTF-8 sequence unless the stream ended. */
  text: boolean;
  /** Milliseconds before the read rejects with a TimeoutError; 0 waits for ever. */
  timeout: number;
}

interface Waiter extends ReadRequest {
  resolve: (data: Buffer) => void;
  reject: (err: TlsError) => void;
  timer: NodeJS.Timeout | undefined;
}

const EMPTY = Buffer.alloc(0);

export class ReadBuffer {
  private chunks_: Buffer[] = [];
  private length_ = 0;
  private ended_ = false;
  private error_: TlsError | undefined = undefined;
  private readonly waiters_: Waiter[] = [];

  /** @param onChange Called after the buffered amount or the set of waiting reads changed (to pause or resume the source). */
  constructor(private readonly onChange: () => void) {}

  /** Bytes buffered. */
  get length(): number {
    return this.length_;
  }

  /** True once the stream ended (cleanly or not). */
  get ended(): boolean {
    return this.ended_;
  }

  /** The error the stream ended with, if it did not end cleanly. */
  get error(): TlsError | undefined {
    return this.error_;
  }

  /** True while a read waits. */
  get waiting(): boolean {
    return this.waiters_.length > 0;
  }

  /** Appends received bytes (the buffer is kept: pass a copy of a reused buffer). */
  push(chunk: Buffer): void {
    if (this.ended_ || chunk.length === 0) return;
    this.chunks_.push(chunk);
    this.length_ += chunk.length;
    this.serve_();
    this.onChange();
  }

  /** The stream ended: cleanly without `error`, else reads drain the buffer and then reject with it. */
  end(error?: TlsError): void {
    if (this.ended_) return;
    this.ended_ = true;
    this.error_ = error;
    this.serve_();
    this.onChange();
  }

  /** Rejects every waiting read with `error` (the socket was closed by its owner). */
  abort(error: TlsError): void {
    const waiters = this.waiters_.splice(0);
    for (const w of waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(error);
    }
    this.onChange();
  }

  /** Waits for bytes as `request` describes. */
  take(request: ReadRequest): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: Waiter = { ...request, resolve, reject, timer: undefined };
      this.waiters_.push(waiter);
      this.serve_();
      if (this.waiters_.includes(waiter) && request.timeout > 0) {
        waiter.timer = setTimeout(() => {
          const i = this.waiters_.indexOf(waiter);
          if (i < 0) return;
          this.waiters_.splice(i, 1);
          reject(new TimeoutError(`no data after ${request.timeout} ms`));
          this.serve_();
          this.onChange();
        }, request.timeout);
      }
      this.onChange();
    });
  }

  /**
   * Takes at once what a non-blocking read may have: up to `max` bytes
   * (-1: all), or the end-of-stream outcome when nothing is buffered.
   * @returns the bytes; an empty Buffer when nothing is there (or after a clean end).
   * @throws the stream's error when it ended badly and nothing is buffered.
   */
  takeNow(max: number, text: boolean): Buffer {
    if (this.length_ === 0) {
      if (this.ended_ && this.error_) throw this.error_;
      return EMPTY;
    }
    let n = max < 0 ? this.length_ : Math.min(max, this.length_);
    if (text && max < 0 && !this.ended_) n = this.boundary_(n);
    const out = this.shift_(n);
    this.onChange();
    return out;
  }

  private serve_(): void {
    while (this.waiters_.length > 0) {
      const w = this.waiters_[0]!;
      const n = this.amountFor_(w);
      if (n === undefined) return;
      this.waiters_.shift();
      if (w.timer) clearTimeout(w.timer);
      if (n === 0 && this.error_) w.reject(this.error_);
      else w.resolve(this.shift_(n));
    }
  }

  /** What `w` gets now, or undefined when it must keep waiting. */
  private amountFor_(w: Waiter): number | undefined {
    const cap = w.max < 0 ? this.length_ : Math.min(w.max, this.length_);
    if (this.ended_) return cap;
    if (this.length_ === 0 || this.length_ < w.min) return undefined;
    if (w.text && w.max < 0) {
      const n = this.boundary_(cap);
      return n === 0 ? undefined : n;
    }
    return cap;
  }

  /** Cuts `n` back to a UTF-8 boundary of the buffered bytes. */
  private boundary_(n: number): number {
    if (n === 0) return 0;
    const tail = this.peekTail_(n, 4);
    return n - tail.length + utf8Boundary(tail);
  }

  /** The last `k` bytes (at most) of the first `n` buffered bytes. */
  private peekTail_(n: number, k: number): Buffer {
    const start = Math.max(0, n - k);
    const parts: Buffer[] = [];
    let pos = 0;
    for (const c of this.chunks_) {
      const end = pos + c.length;
      if (end > start && pos < n) parts.push(c.subarray(Math.max(0, start - pos), Math.min(c.length, n - pos)));
      pos = end;
      if (pos >= n) break;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private shift_(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.length_ -= n;
    const first = this.chunks_[0]!;
    if (first.length === n) {
      this.chunks_.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks_[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks_[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks_.shift();
      else this.chunks_[0] = c.subarray(k);
    }
    return out;
  }
}
