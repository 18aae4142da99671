// The one "wait until the socket can take more" of rxtls: TlsEngine.whenDrained()
// and the plain Socket's send both use it, and so (through the engine) do
// TlsDuplex, TLSSocket.send and the rx writers.
import type { Socket as NetSocket } from 'node:net';

import type { TlsError } from './errors.js';

/**
 * A Promise per 'drain' of one socket, shared by everyone waiting for it
 * (one Promise, no listener per wait). The owner calls `drained()` on the
 * socket's 'drain' and `fail(err)` when the connection fails or closes.
 */
export class DrainSignal {
  private promise_: Promise<void> | undefined = undefined;
  private resolve_: (() => void) | undefined = undefined;
  private reject_: ((err: TlsError) => void) | undefined = undefined;

  /**
   * Resolves at once when `socket` is below its high-water mark, else on its
   * next 'drain'; rejects with `gone()` when the socket is already destroyed,
   * or with what `fail` is given if it fails first.
   */
  wait(socket: NetSocket, gone: () => TlsError): Promise<void> {
    if (socket.destroyed) return Promise.reject(gone());
    if (!socket.writableNeedDrain) return Promise.resolve();
    return (this.promise_ ??= new Promise<void>((resolve, reject) => {
      this.resolve_ = resolve;
      this.reject_ = reject;
    }));
  }

  /** The socket emitted 'drain'. */
  drained(): void {
    const resolve = this.resolve_;
    this.clear_();
    resolve?.();
  }

  /** The connection failed or closed: every wait rejects with `err`. */
  fail(err: TlsError): void {
    const reject = this.reject_;
    this.clear_();
    reject?.(err);
  }

  private clear_(): void {
    this.promise_ = undefined;
    this.resolve_ = undefined;
    this.reject_ = undefined;
  }
}
