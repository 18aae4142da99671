// The connection surface the load generator drives, and a plain TCP client
// with it, so the workers drive node:net servers (the TCP ceiling) unchanged.
import * as net from 'node:net';

import { socketError, type SecureConnection, type TlsError } from '@rxtls/core';

/**
 * The part of a connection the load generator uses: what both rxtls
 * transports (SecureConnection: TlsEngine, NativeTlsConnection) and
 * PlainConn have. `ondrain` (not a socket event) is the backpressure signal,
 * since a native connection has no net.Socket.
 */
export type Conn = Pick<SecureConnection, 'onsecure' | 'ondata' | 'onend' | 'onerror' | 'onclose' | 'ondrain' | 'secure' | 'closed' | 'write' | 'end'> & {
  destroy(): void;
};

export class PlainConn implements Conn {
  onsecure: (() => void) | undefined = undefined;
  ondata: ((chunk: Buffer) => void) | undefined = undefined;
  onend: (() => void) | undefined = undefined;
  onerror: ((err: TlsError) => void) | undefined = undefined;
  onclose: ((error: TlsError | undefined) => void) | undefined = undefined;
  ondrain: (() => void) | undefined = undefined;
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
    this.socket.on('drain', () => this.ondrain?.());
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
