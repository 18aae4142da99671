// A status line: on a terminal one line rewritten in place, elsewhere (a
// pipe, a CI log) plain lines, so logs stay readable.

/** Writes progress to a stream (stderr by default) as one updating line on a TTY. */
export class StatusLine {
  /** Whether the stream is a terminal (the line is rewritten in place). */
  readonly tty: boolean;
  private readonly out: NodeJS.WritableStream;
  private shown = false;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr) {
    this.out = out;
    this.tty = out.isTTY === true;
  }

  /** Shows `text`: replaces the line on a TTY, else writes it as a line of its own. */
  show(text: string): void {
    if (this.tty) {
      this.out.write(`\r\x1b[K${text}`);
      this.shown = true;
    } else this.out.write(text + '\n');
  }

  /** Removes the line (TTY), so that what follows starts on a clean line. */
  clear(): void {
    if (this.tty && this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }

  /** Writes `text` as a permanent line, above the status line. */
  log(text: string): void {
    this.clear();
    this.out.write(text + '\n');
  }
}
