// `socket.setTimeout(ms)` for a connection that has no net.Socket (the native
// transport): 'timeout' after `ms` without reads or writes. Activity only
// stores a time stamp; the one timer checks it when it fires and re-arms for
// what is left, so a busy connection never touches the timer list. node:http
// calls setTimeout twice per keep-alive request: both are cheap here too.

// setTimeout's longest delay (a longer one would fire at once).
const MAX_DELAY = 2 ** 31 - 1;

/** An idle timer; `touch()` on every read and write. */
export class IdleTimer {
  private ms_ = 0;
  private last_ = 0;
  private due_ = 0;
  private timer_: NodeJS.Timeout | undefined = undefined;

  constructor(private readonly onTimeout_: () => void) {}

  /** Milliseconds of inactivity before the callback (at most about 24.8 days, as setTimeout); 0 turns it off. */
  set(ms: number): void {
    this.ms_ = Math.min(ms, MAX_DELAY);
    if (ms === 0) return; // a timer still armed finds ms_ 0 and stops
    this.last_ = Date.now();
    // An armed timer due too late for the new, shorter delay is replaced.
    if (this.timer_ !== undefined && this.due_ > this.last_ + this.ms_) this.stop();
    if (this.timer_ === undefined) this.arm_(this.ms_);
  }

  /** Something was read or written. */
  touch(): void {
    if (this.ms_ === 0) return;
    this.last_ = Date.now();
    // Fired already: activity starts a new period, as net.Socket does.
    if (this.timer_ === undefined) this.arm_(this.ms_);
  }

  stop(): void {
    if (this.timer_ !== undefined) clearTimeout(this.timer_);
    this.timer_ = undefined;
  }

  private arm_(ms: number): void {
    this.due_ = Date.now() + ms;
    // Unref'd, as net.Socket's: the connection, not its timeout, keeps the process alive.
    this.timer_ = setTimeout(() => this.fire_(), ms);
    this.timer_.unref();
  }

  private fire_(): void {
    this.timer_ = undefined;
    if (this.ms_ === 0) return;
    const left = this.last_ + this.ms_ - Date.now();
    if (left > 0) this.arm_(left);
    else this.onTimeout_();
  }
}
