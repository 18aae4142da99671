// `send` for Socket and TLSSocket: text, bytes, or an open file streamed from
// disk chunk by chunk, each chunk waiting for the socket to drain when its
// buffer is full (backpressure), the whole call bounded by `send_timeout`.
import { TimeoutError } from './errors.js';
import { isFileHandle, type SendMessage } from './socket-args.js';

/** Size of the chunks a file is read and sent in. */
export const kFileChunkSize = 64 * 1024;

export interface Writer {
  /** Writes one chunk; false when the transport's buffer is full. */
  write(chunk: Buffer | string): boolean;
  /** True when `write` copies the chunk before it returns (a file chunk buffer may then be reused). */
  readonly copies: boolean;
  /** Resolves once the transport's buffer drained; rejects when it fails or closes first. */
  whenDrained(): Promise<void>;
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
    const drained = writer.whenDrained();
    if (deadline === 0) return drained;
    let timer: NodeJS.Timeout | undefined;
    const late = new TimeoutError('send did not complete within the send_timeout');
    try {
      await Promise.race([
        drained,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(late), Math.max(1, deadline - Date.now())))),
      ]);
    } catch (err) {
      if (err === late) onTimeout();
      throw err;
    } finally {
      clearTimeout(timer);
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
