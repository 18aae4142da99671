// read(conn): the plaintext of one connection as an Observable of Buffers.
import { StateError, TruncationError } from '@rxtls/core';
import { Observable } from 'rxjs';

import { stateOf, updatePause, type TlsConnection } from './connection.js';
import { currentFlow } from './flow.js';
import type { ReadOptions } from './options.js';

/**
 * The plaintext the peer sends, chunk by chunk, in order.
 *
 * - Completes when the peer sends close_notify (or after this side closed the connection).
 * - Errors with `TruncationError` when the transport closes without close_notify
 *   (unless `allowTruncation`), and with the connection's error when it fails.
 * - One reader per connection: a second `read(conn)` errors with a `StateError`;
 *   to feed several consumers, `share()` the one read.
 * - Unsubscribing before the end destroys the connection (a reader that stops
 *   early would otherwise leave the peer blocked on a paused socket).
 * - Backpressure: a `write()` downstream in the same `pipe()` pauses this
 *   connection while its own socket is full. Until a reader subscribes, the
 *   connection is paused and what already arrived is kept for it.
 *
 * @example
 * read(conn).pipe(map((b) => b.toString('utf8'))).subscribe(console.log);
 */
export function read(conn: TlsConnection, options: ReadOptions = {}): Observable<Buffer> {
  return new Observable<Buffer>((subscriber) => {
    const st = stateOf(conn);
    if (st.readerClaimed) {
      subscriber.error(new StateError('read(conn) was already subscribed: a connection has one reader (share() it to fan out)'));
      return;
    }
    st.readerClaimed = true;
    let ended = false;
    const flow = currentFlow();
    st.reader = {
      next: (chunk) => subscriber.next(chunk),
      end: (error) => {
        ended = true;
        st.reader = undefined;
        if (error === undefined || (options.allowTruncation && error instanceof TruncationError)) subscriber.complete();
        else subscriber.error(error);
      },
    };
    flow?.attach(st);
    // What arrived before this reader: deliver it now, in order. The source
    // may end here, before the teardown below exists (rxjs runs it at once).
    while (st.chunks.length > 0 && st.reader) st.reader.next(st.chunks.shift()!);
    if (st.reader && (st.error || st.peerEnded || st.closed)) st.reader.end(st.error);
    if (st.reader) updatePause(st);
    return () => {
      flow?.detach(st);
      if (ended) return;
      st.reader = undefined;
      st.localClose = true;
      st.link.destroy();
    };
  });
}
