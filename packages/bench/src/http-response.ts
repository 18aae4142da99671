// An incremental HTTP/1.1 response reader for the load generator: enough of
// the protocol to find where each response ends (Content-Length, chunked,
// or close-delimited), nothing more.

const CRLF2 = Buffer.from('\r\n\r\n');

export class HttpResponseReader {
  private buf_: Buffer = Buffer.alloc(0);
  private state_: 'head' | 'length' | 'chunked' | 'close' = 'head';
  private remaining_ = 0;
  /** Status code of the last response head read. */
  status = 0;

  /**
   * Feeds bytes; returns how many complete responses they finished (usually
   * 0 or 1). Throws on a response it cannot read.
   */
  push(chunk: Buffer): number {
    this.buf_ = this.buf_.length === 0 ? chunk : Buffer.concat([this.buf_, chunk]);
    let done = 0;
    for (;;) {
      if (this.state_ === 'head') {
        const end = this.buf_.indexOf(CRLF2);
        if (end < 0) {
          if (this.buf_.length > 64 * 1024) throw new Error('HTTP response head larger than 64 KiB');
          return done;
        }
        const state = this.readHead_(this.buf_.toString('latin1', 0, end));
        this.buf_ = this.buf_.subarray(end + 4);
        if (state === 'length' && this.remaining_ === 0) {
          this.state_ = 'head';
          done++;
        }
        continue;
      }
      if (this.state_ === 'length') {
        const take = Math.min(this.remaining_, this.buf_.length);
        this.remaining_ -= take;
        this.buf_ = this.buf_.subarray(take);
        if (this.remaining_ > 0) return done;
        this.state_ = 'head';
        done++;
        continue;
      }
      if (this.state_ === 'chunked') {
        if (this.remaining_ > 0) {
          // Chunk data plus its trailing CRLF.
          const take = Math.min(this.remaining_, this.buf_.length);
          this.remaining_ -= take;
          this.buf_ = this.buf_.subarray(take);
          if (this.remaining_ > 0) return done;
        }
        const eol = this.buf_.indexOf('\r\n');
        if (eol < 0) return done;
        const size = parseInt(this.buf_.toString('latin1', 0, eol), 16);
        if (!Number.isFinite(size)) throw new Error('bad chunk size in HTTP response');
        if (size === 0) {
          // Last chunk: no trailers expected, just the final CRLF.
          if (this.buf_.length < eol + 4) return done;
          this.buf_ = this.buf_.subarray(eol + 4);
          this.state_ = 'head';
          done++;
          continue;
        }
        this.buf_ = this.buf_.subarray(eol + 2);
        this.remaining_ = size + 2;
        continue;
      }
      // Close-delimited: the body runs to the end of the connection.
      this.buf_ = Buffer.alloc(0);
      return done;
    }
  }

  /** The connection ended: completes a close-delimited response. */
  end(): number {
    return this.state_ === 'close' ? ((this.state_ = 'head'), 1) : 0;
  }

  private readHead_(head: string): 'length' | 'chunked' | 'close' {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new Error(`not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? '').slice(0, 40))}`);
    this.status = Number(m[1]);
    let length = -1;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding' && /chunked/i.test(value)) chunked = true;
    }
    const noBody = this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200);
    if (noBody) {
      this.state_ = 'length';
      this.remaining_ = 0;
    } else if (chunked) {
      this.state_ = 'chunked';
      this.remaining_ = 0;
    } else if (length >= 0) {
      this.state_ = 'length';
      this.remaining_ = length;
    } else {
      this.state_ = 'close';
    }
    return this.state_;
  }
}
