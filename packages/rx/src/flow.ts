// Demand signal between a writer and the readers feeding it.
//
// rxjs has no backpressure channel, so write() opens one: while it subscribes
// to its source, it publishes a FlowController in a module-level scope; every
// read() subscribed synchronously inside that call (that is: read(a) anywhere
// upstream in the same pipe(), through map, filter, scan, mergeMap…) attaches
// its connection to it. When the writer's connection passes its high-water mark
// the controller pauses those connections; the writer's `ondrain` resumes
// them. The pause reaches the peer through TCP flow control, so memory stays
// bounded end to end.
import type { ConnectionState } from './connection.js';
import { updatePause } from './connection.js';

/** One per write() subscription: the connections it may pause. */
export class FlowController {
  private paused_ = false;
  private readonly targets_ = new Set<ConnectionState>();

  get paused(): boolean {
    return this.paused_;
  }

  /** Called by read() for the connection it reads. */
  attach(state: ConnectionState): void {
    if (this.targets_.has(state)) return;
    this.targets_.add(state);
    if (this.paused_) {
      state.demandPauses++;
      updatePause(state);
    }
  }

  detach(state: ConnectionState): void {
    if (!this.targets_.delete(state)) return;
    if (this.paused_) {
      state.demandPauses--;
      updatePause(state);
    }
  }

  pause(): void {
    if (this.paused_) return;
    this.paused_ = true;
    for (const s of this.targets_) {
      s.demandPauses++;
      updatePause(s);
    }
  }

  resume(): void {
    if (!this.paused_) return;
    this.paused_ = false;
    for (const s of this.targets_) {
      s.demandPauses--;
      updatePause(s);
    }
  }

  /** Releases every connection (the writer is gone). */
  dispose(): void {
    this.resume();
    this.targets_.clear();
  }
}

// The controller of the write() whose source is being subscribed right now.
// A stack in effect: withFlow restores the outer value, so nested pipelines
// (a proxy's two directions in one merge()) each get their own.
let current: FlowController | undefined;

/** Runs `subscribe` with `flow` as the controller read() attaches to. */
export function withFlow<T>(flow: FlowController, subscribe: () => T): T {
  const outer = current;
  current = flow;
  try {
    return subscribe();
  } finally {
    current = outer;
  }
}

/** The controller in scope, if a write() is subscribing its source. */
export function currentFlow(): FlowController | undefined {
  return current;
}
