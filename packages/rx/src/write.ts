// write(conn): an operator that sends its source's chunks over a connection.
import { ClosedError, InvalidArgumentError, StateError, type TlsError } from '@rxtls/core';
import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';

import { stateOf, type ConnectionState, type TlsConnection } from './connection.js';
import { FlowController, withFlow } from './flow.js';

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

/** @internal Writes one chunk; returns its byte count, or throws what the engine threw. */
export function writeChunk(st: ConnectionState, chunk: Chunk): { bytes: number; full: boolean } {
  let data: Buffer | string;
  if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) data = chunk;
  else if (chunk instanceof Uint8Array) data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  else throw new InvalidArgumentError('Expected each chunk to be a Buffer, a Uint8Array or a string');
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  // The engine reports the socket's own high-water mark: false means the
  // socket buffered more than `writableHighWaterMark` and will emit 'drain'.
  const ok = st.engine.write(data);
  return { bytes, full: !ok };
}

/**
 * @internal Sends close_notify and calls `done` once it and everything before
 * it left for the kernel (the socket's 'finish').
 */
export function endWriter(st: ConnectionState, done: () => void): () => void {
  const socket = st.engine.socket;
  st.engine.end();
  if (socket.writableFinished) {
    done();
    return () => {};
  }
  socket.once('finish', done);
  return () => socket.off('finish', done);
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
      let waiting = false;
      let stopFinish: (() => void) | undefined;
      // Paused readers resume once the socket drained; a failure reaches the subscriber through onClose.
      const resumeOnDrain = () => {
        flow.pause();
        if (waiting) return;
        waiting = true;
        st.engine.whenDrained().then(
          () => {
            waiting = false;
            flow.resume();
          },
          () => void (waiting = false),
        );
      };
      const onClose = (error: TlsError | undefined) => subscriber.error(closedUnderWriter(error));
      st.closeListeners.add(onClose);
      // Registered first: the source may complete inside subscribe(), and
      // then this teardown runs at once (the tRPC edge).
      subscriber.add(() => {
        st.closeListeners.delete(onClose);
        stopFinish?.();
        flow.dispose();
        if (!finished && !st.closed) {
          st.localClose = true;
          st.engine.destroy();
        }
      });
      const sourceSub = withFlow(flow, () =>
        source.subscribe({
          next: (chunk) => {
            let r: { bytes: number; full: boolean };
            try {
              r = writeChunk(st, chunk);
            } catch (err) {
              subscriber.error(err);
              return;
            }
            if (r.full) resumeOnDrain();
            subscriber.next(r.bytes);
          },
          error: (err) => subscriber.error(err),
          complete: () => {
            stopFinish = endWriter(st, () => {
              finished = true;
              subscriber.complete();
            });
          },
        }),
      );
      subscriber.add(sourceSub);
    });
}
