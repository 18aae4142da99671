// A TLS client whose bytes the test controls: a plain TCP socket driven by a
// native memory session. It completes a real handshake, then lets the test
// send whatever it likes: whole records, half records, forged headers.
import * as net from 'node:net';

import type { NativeContext } from '@rxtls/native';

import { withTimeout } from '../../helpers/net.js';
import { side, take, type Side } from './memory.js';

export interface RawClient {
  socket: net.Socket;
  tls: Side;
  /** Resolves when the socket has closed (whoever closed it). */
  closed: Promise<void>;
  /** Encrypts `data` into records without sending them. */
  seal(data: Buffer | string): Buffer;
}

/** Opens a plain TCP connection to 127.0.0.1:port. */
export function rawSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when `socket` closes; errors (ECONNRESET from a server that dropped us) are expected. */
export function whenClosed(socket: net.Socket): Promise<void> {
  socket.on('error', () => {});
  // Read (and drop) what arrives, alerts included: a paused socket never sees the FIN.
  socket.resume();
  return new Promise((resolve) => (socket.destroyed && socket.closed ? resolve() : socket.once('close', () => resolve())));
}

/** Connects and completes a handshake with `context` (a client context that trusts the server). */
export async function rawTlsClient(port: number, context: NativeContext): Promise<RawClient> {
  const socket = await rawSocket(port);
  const closed = whenClosed(socket);
  const tls = side(context, false);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        const enc = take(tls, tls.session.cycle(chunk));
        if (enc) socket.write(enc);
        if (tls.error) reject(tls.error);
        else if (tls.secure) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('server closed during the raw handshake')));
      socket.write(take(tls, tls.session.cycle())!);
    }),
    10_000,
    'raw TLS handshake',
  );
  // Whatever arrives later (tickets, alerts) is read and dropped: the test
  // watches the server's verdict, not this client's.
  socket.on('data', () => {});
  return {
    socket,
    tls,
    closed,
    seal: (data) => take(tls, tls.session.write(data))!,
  };
}
