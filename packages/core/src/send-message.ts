// `send` for Socket and TLSSocket: text, bytes, or an open file streamed from
// disk chunk by chunk, each chunk waiting for the socket to drain when its
// buffer is full (backpressure), the whole call bounded by `send_timeout`.
import type { Socket as NetSocket } from 'node:net';

import { SocketError, TimeoutError } from './errors.js';
import { isFileHandle, type SendMessage } from './socket-args.js';

/** Size of the chunks a file is read and sent in. */
export const kFileChunkSize = 64 * 1024;

export interface Writer {
  /** Writes one chunk; false when the transport's buffer is full. */
  write(chunk: Buffer | string): boolean;
  /** True when `write` copies the chunk before it returns (a file chunk buffer may then be reused). */
  readonly copies: boolean;
  /** The transport whose 'drain', 'close' and 'error' events pace the writes. */
  readonly socket: NetSocket;
}

/**
 * Sends `message` and resolves with the number of bytes sent (plaintext
 * bytes: UTF-8 length for text) once it is handed to the socket, below its
 * high-water mark.
 *
 * @param timeout Milliseconds the whole call may wait for the socket to drain; 0 for no limit.
 * @param onTimeout Called before the TimeoutError is thrown: the stream is cut mid-message, so the owner closes it.
 */
export async function sendMessage(message: SendMessage, writer: Writer, timeout: number, onTimeout: () => void): Promise<number> {
  const deadline = timeout > 0 ? Date.now() + timeout : 0;
  const pace = async (ok: boolean) => {
    if (ok) return;
    try {
      await drained(writer.socket, deadline);
    } catch (err) {
      if (err instanceof TimeoutError) onTimeout();
      throw err;
    }
  };
  if (typeof message === 'string') {
    await pace(writer.write(message));
    return Buffer.byteLength(message);
  }
  if (!isFileHandle(message)) {
    const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    if (buf.length > 0) await pace(writer.write(buf));
    return buf.length;
  }
  let total = 0;
  let chunk = Buffer.allocUnsafe(kFileChunkSize);
  for (;;) {
    // position null: read on from the file's current position, as a stream does.
    const { bytesRead } = await message.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) return total;
    total += bytesRead;
    await pace(writer.write(chunk.subarray(0, bytesRead)));
    // A writer that keeps the chunk (a plain socket queues it) needs a fresh buffer.
    if (!writer.copies) chunk = Buffer.allocUnsafe(kFileChunkSize);
  }
}

/** Resolves on 'drain'; rejects when the socket closes or fails first, or at `deadline` (0: never). */
function drained(socket: NetSocket, deadline: number): Promise<void> {
  if (socket.destroyed) return Promise.reject(new SocketError('socket closed while sending'));
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (err?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (timer) clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new SocketError('socket closed while sending'));
    const onError = (err: NodeJS.ErrnoException) =>
      done(new SocketError(err.message, { cause: err, ...(err.code ? { syscallCode: err.code } : {}) }));
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    socket.on('error', onError);
    if (deadline > 0) {
      const left = Math.max(1, deadline - Date.now());
      timer = setTimeout(() => done(new TimeoutError(`send did not complete within the send_timeout`)), left);
    }
  });
}
