// write(conn): an operator that sends its source's chunks over a connection.
import { ClosedError, InvalidArgumentError, StateError, type TlsError } from '@rxtls/core';
import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';

import { listenClose, stateOf, type ConnectionState, type TlsConnection } from './connection.js';
import { FlowController, withFlow } from './flow.js';
import { whenFlushed } from './link.js';

/** A chunk write() and writeFrom() accept. Strings are sent as UTF-8. */
export type Chunk = Buffer | Uint8Array | string;

/** @internal Claims the connection's one writer slot; errors the subscriber when taken. */
export function claimWriter(st: ConnectionState, subscriber: Subscriber<number>): boolean {
  if (st.writerClaimed) {
    subscriber.error(new StateError('write(conn) was already subscribed: a connection has one writer (merge() the sources)'));
    return false;
  }
  if (st.closed || st.error || st.localClose) {
    subscriber.error(st.error ?? new ClosedError('the connection is closed'));
    return false;
  }
  st.writerClaimed = true;
  return true;
}

/**
 * @internal Writes one chunk (no copy: a Uint8Array is viewed as a Buffer).
 * Returns false when the link's buffer passed its high-water mark: its
 * `ondrain` follows (see ConnectionState.onDrain). Throws what the link threw.
 */
export function writeChunk(st: ConnectionState, chunk: Chunk): boolean {
  if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) return st.link.write(chunk);
  if (chunk instanceof Uint8Array) return st.link.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  throw new InvalidArgumentError('Expected each chunk to be a Buffer, a Uint8Array or a string');
}

/** @internal The plaintext bytes of a chunk writeChunk took. */
export function chunkBytes(chunk: Chunk): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
}

/**
 * @internal Sends close_notify and calls `done` once it and everything
 * before it left for the kernel; returns a canceller. Should the link close
 * first, the writer's close listener hears of it (see writerClosed).
 */
export function endWriter(st: ConnectionState, done: () => void): () => void {
  st.link.end();
  return whenFlushed(st.link, done);
}

/**
 * @internal What a writer does when its connection closes: after its own
 * end(), a clean close that this side did not cause means everything went
 * out (the native transport closes once its FIN left and the peer's came),
 * so it completes (`finish`); otherwise it errors with the reason.
 */
export function writerClosed(st: ConnectionState, ending: boolean, error: TlsError | undefined, subscriber: Subscriber<number>, finish: () => void): void {
  if (ending && error === undefined && !st.localClose) finish();
  else subscriber.error(closedUnderWriter(error));
}

/** @internal The error a writer reports when its connection went away under it. */
export function closedUnderWriter(error: TlsError | undefined): TlsError {
  return error ?? new ClosedError('the connection closed while writing');
}

/**
 * An operator that writes each chunk of its source to `conn` and emits the
 * number of plaintext bytes each chunk carried once the connection took it.
 *
 * - When the source completes it sends close_notify and completes once that is
 *   flushed to the socket. The connection stays open for reading (TLS
 *   half-close) until the peer's close_notify.
 * - When the source errors, or the result is unsubscribed before it
 *   completed, the connection is destroyed (no close_notify: a broken stream
 *   must not look complete to the peer).
 * - One writer per connection: a second `write(conn)` errors with a `StateError`.
 * - Backpressure: when `conn`'s socket buffer passes its high-water mark, every
 *   `read()` subscribed inside this operator's source (upstream in the same
 *   `pipe()`) is paused until the socket drains. A source that cannot be
 *   paused (`of`, `from(array)`, `interval`, a Subject) is written anyway and
 *   buffers in memory; pull such data with `writeFrom(conn, asyncIterable)`.
 *
 * @example
 * // echo
 * read(conn).pipe(write(conn)).subscribe();
 */
export function write(conn: TlsConnection): OperatorFunction<Chunk, number> {
  return (source) =>
    new Observable<number>((subscriber) => {
      const st = stateOf(conn);
      if (!claimWriter(st, subscriber)) return;
      const flow = new FlowController();
      let finished = false;
      let ending = false;
      let stopFinish: (() => void) | undefined;
      // Paused readers resume once the link drained; a failure reaches the subscriber through onClose.
      const onDrain = () => flow.resume();
      const finish = () => {
        finished = true;
        subscriber.complete();
      };
      const onClose = (error: TlsError | undefined) => writerClosed(st, ending, error, subscriber, finish);
      const stopListening = listenClose(st, onClose);
      // Registered first: the source may complete inside subscribe(), and
      // then this teardown runs at once (the tRPC edge).
      subscriber.add(() => {
        stopListening();
        if (st.onDrain === onDrain) st.onDrain = undefined;
        stopFinish?.();
        flow.dispose();
        if (!finished && !st.closed) {
          st.localClose = true;
          st.link.destroy();
        }
      });
      const sourceSub = withFlow(flow, () =>
        source.subscribe({
          next: (chunk) => {
            let ok: boolean;
            try {
              ok = writeChunk(st, chunk);
            } catch (err) {
              subscriber.error(err);
              return;
            }
            if (!ok) {
              flow.pause();
              st.onDrain = onDrain;
            }
            subscriber.next(chunkBytes(chunk));
          },
          error: (err) => subscriber.error(err),
          complete: () => {
            ending = true;
            stopFinish = endWriter(st, finish);
          },
        }),
      );
      subscriber.add(sourceSub);
    });
}
