// The server side of the bench protocols, as engine-neutral state machines:
// every engine (rxtls, node:tls, node:net) runs the same code, so the
// comparison measures the transport, not the handler.

/** What a protocol needs from a connection. */
export interface Sink {
  /** Writes; false when the transport's buffer is full. */
  write(data: Buffer): boolean;
  /** Calls `fn` once the transport can take more. */
  onceDrain(fn: () => void): void;
  end(): void;
}

const NL = 0x0a;
const OK = Buffer.from('ok\n');
/** What `down N` sends, chunk by chunk: 64 KiB of filler, allocated once. */
const SOURCE_CHUNK = Buffer.alloc(64 * 1024, 'd');

/**
 * The stream protocol of the bulk scenario: `up N\n` then N bytes, answered
 * with `ok\n`; or `down N\n`, answered with N bytes. Commands repeat.
 */
export class StreamProtocol {
  private head_ = '';
  private upRemaining_ = 0;
  private readonly sink_: Sink;

  constructor(sink: Sink) {
    this.sink_ = sink;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.upRemaining_ > 0) {
        const take = Math.min(this.upRemaining_, chunk.length - offset);
        this.upRemaining_ -= take;
        offset += take;
        if (this.upRemaining_ === 0) this.sink_.write(OK);
        continue;
      }
      const nl = chunk.indexOf(NL, offset);
      if (nl < 0) {
        this.head_ += chunk.toString('latin1', offset);
        if (this.head_.length > 64) this.sink_.end();
        return;
      }
      const line = this.head_ + chunk.toString('latin1', offset, nl);
      this.head_ = '';
      offset = nl + 1;
      this.command_(line);
    }
  }

  private command_(line: string): void {
    const m = /^(up|down) (\d+)$/.exec(line.trim());
    if (!m) {
      this.sink_.end();
      return;
    }
    const n = Number(m[2]);
    if (m[1] === 'up') {
      if (n === 0) this.sink_.write(OK);
      else this.upRemaining_ = n;
      return;
    }
    let left = n;
    const pump = () => {
      while (left > 0) {
        const size = Math.min(left, SOURCE_CHUNK.length);
        left -= size;
        if (!this.sink_.write(size === SOURCE_CHUNK.length ? SOURCE_CHUNK : SOURCE_CHUNK.subarray(0, size))) {
          if (left > 0) this.sink_.onceDrain(pump);
          return;
        }
      }
    };
    pump();
  }
}

export const HELLO_BODY = 'hello world\n';
const RESPONSE_KEEP = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO_BODY.length}\r\n\r\n${HELLO_BODY}`,
  'latin1',
);
const RESPONSE_CLOSE = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO_BODY.length}\r\nConnection: close\r\n\r\n${HELLO_BODY}`,
  'latin1',
);
const CRLF2 = Buffer.from('\r\n\r\n');

/** Whether a request head asks the server to close after its response: `Connection: close`, or HTTP/1.0 without keep-alive (openssl s_time -www). */
function closesAfter(head: string): boolean {
  if (/\r\nconnection:\s*close/i.test(head)) return true;
  const lineEnd = head.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  return requestLine.endsWith(' HTTP/1.0') && !/\r\nconnection:\s*keep-alive/i.test(head);
}

/**
 * A minimal HTTP/1.1 responder: answers every GET (no request bodies) with
 * the fixed hello response, and closes after one that asked for it.
 */
export class MinimalHttp {
  private buf_: Buffer | undefined = undefined;
  private readonly sink_: Sink;

  constructor(sink: Sink) {
    this.sink_ = sink;
  }

  push(chunk: Buffer): void {
    let data = this.buf_ ? Buffer.concat([this.buf_, chunk]) : chunk;
    this.buf_ = undefined;
    for (;;) {
      const end = data.indexOf(CRLF2);
      if (end < 0) break;
      const head = data.toString('latin1', 0, end);
      data = data.subarray(end + 4);
      if (closesAfter(head)) {
        this.sink_.write(RESPONSE_CLOSE);
        this.sink_.end();
        return;
      }
      this.sink_.write(RESPONSE_KEEP);
    }
    if (data.length > 0) {
      if (data.length > 64 * 1024) this.sink_.end();
      else this.buf_ = Buffer.from(data);
    }
  }
}
