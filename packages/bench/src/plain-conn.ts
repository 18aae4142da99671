// A plain TCP client with the callback surface of TlsEngine, so the load
// generator's workers drive node:net servers (the TCP ceiling) unchanged.
import * as net from 'node:net';

import { socketError, type TlsError } from '@rxtls/core';

/** The part of TlsEngine the load generator uses. */
export interface Conn {
  onsecure: (() => void) | undefined;
  ondata: ((chunk: Buffer) => void) | undefined;
  onend: (() => void) | undefined;
  onerror: ((err: TlsError) => void) | undefined;
  onclose: ((error: TlsError | undefined) => void) | undefined;
  readonly socket: net.Socket;
  readonly secure: boolean;
  readonly closed: boolean;
  write(data: Buffer | string): boolean;
  end(): void;
  destroy(): void;
}

export class PlainConn implements Conn {
  onsecure: (() => void) | undefined = undefined;
  ondata: ((chunk: Buffer) => void) | undefined = undefined;
  onend: (() => void) | undefined = undefined;
  onerror: ((err: TlsError) => void) | undefined = undefined;
  onclose: ((error: TlsError | undefined) => void) | undefined = undefined;
  readonly socket: net.Socket;
  private connected_ = false;
  private closed_ = false;
  private error_: TlsError | undefined = undefined;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('connect', () => {
      this.connected_ = true;
      this.onsecure?.();
    });
    this.socket.on('data', (chunk: Buffer) => this.ondata?.(chunk));
    this.socket.on('end', () => {
      this.onend?.();
      this.socket.end();
    });
    this.socket.on('error', (err) => {
      const e = socketError(err);
      this.error_ ??= e;
      this.onerror?.(e);
    });
    this.socket.on('close', () => {
      this.closed_ = true;
      this.onclose?.(this.error_);
    });
  }

  get secure(): boolean {
    return this.connected_ && !this.closed_;
  }

  get closed(): boolean {
    return this.closed_;
  }

  write(data: Buffer | string): boolean {
    return this.socket.write(data);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
