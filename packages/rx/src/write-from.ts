// writeFrom(conn, iterable): the pull-based writer, for sources write()
// cannot pause.
import type { TlsError } from '@rxtls/core';
import { Observable } from 'rxjs';

import { listenClose, stateOf, type TlsConnection } from './connection.js';
import { chunkBytes, claimWriter, endWriter, writeChunk, writerClosed, type Chunk } from './write.js';

/**
 * Writes the chunks of a (sync or async) iterable to `conn`, pulling the next
 * chunk only while the socket is below its high-water mark: memory stays
 * bounded whatever the source. Emits the bytes of each chunk written; sends
 * close_notify and completes when the iterable is done.
 *
 * Use it for data `write()` cannot pause: a generator, a file
 * (`fs.createReadStream` is an AsyncIterable), a large array.
 * Unsubscribing stops the iteration (its `return()` runs) and destroys the
 * connection; an iterable that throws destroys it and errors the result.
 *
 * @example
 * async function* payload() { for (let i = 0; i < 1024; i++) yield randomBytes(65536); }
 * writeFrom(conn, payload()).subscribe();
 */
export function writeFrom(conn: TlsConnection, source: AsyncIterable<Chunk> | Iterable<Chunk>): Observable<number> {
  return new Observable<number>((subscriber) => {
    const st = stateOf(conn);
    if (!claimWriter(st, subscriber)) return;
    let stopped = false;
    let finished = false;
    let ending = false;
    let wake: (() => void) | undefined;
    let stopFinish: (() => void) | undefined;
    const finish = () => {
      finished = true;
      subscriber.complete();
    };
    const onClose = (error: TlsError | undefined) => {
      stopped = true;
      wake?.();
      writerClosed(st, ending, error, subscriber, finish);
    };
    const stopListening = listenClose(st, onClose);
    subscriber.add(() => {
      stopped = true;
      wake?.();
      if (st.onDrain === wake) st.onDrain = undefined;
      stopListening();
      stopFinish?.();
      if (!finished && !st.closed) {
        st.localClose = true;
        st.link.destroy();
      }
    });
    const pump = async () => {
      const iterator =
        Symbol.asyncIterator in source ? (source as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (source as Iterable<Chunk>)[Symbol.iterator]();
      try {
        for (;;) {
          const step = await iterator.next();
          if (stopped) break;
          if (step.done) {
            ending = true;
            stopFinish = endWriter(st, finish);
            return;
          }
          const ok = writeChunk(st, step.value);
          subscriber.next(chunkBytes(step.value));
          // Woken by the drain, or by a close/unsubscribe (then `stopped` says so).
          if (!ok && !stopped)
            await new Promise<void>((resolve) => {
              wake = resolve;
              st.onDrain = resolve;
            });
          wake = undefined;
          if (stopped) break;
        }
        // Stopped early: let the iterable release what it holds.
        await iterator.return?.();
      } catch (err) {
        subscriber.error(err);
      }
    };
    void pump();
  });
}
