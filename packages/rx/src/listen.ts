// listen(options): a TLS server as an Observable of handshaken connections.
import type { AddressInfo, Server, Socket } from 'node:net';

import { checkPort, createTlsServer, type TlsEngine, type TlsError } from '@rxtls/core';
import { Observable } from 'rxjs';

import { checkOptions, createConnection, type TlsConnection } from './connection.js';
import { pickDefined, SERVER_FIELDS, type ListenOptions, type RemoteAddress } from './options.js';

/**
 * A TLS server. Cold: subscribing binds and listens; each emission is a
 * {@link TlsConnection} whose handshake is done.
 *
 * - The bound address (the port that `port: 0` picked) is passed to
 *   `onListening`.
 * - A client that fails before its handshake is done (not TLS, a bad
 *   certificate, a timeout, a hang-up) never errors or completes this stream:
 *   it goes to `onClientError(error, remote)` and the server goes on. The
 *   stream errors only when the server itself fails (the address is in use,
 *   the certificate or key is unusable) or a callback of yours throws.
 * - Unsubscribing stops listening and drops the clients still in their
 *   handshake. Connections already emitted stay open: they belong to their
 *   subscribers (`write()` and `read()` close them when unsubscribed). So
 *   `listen(o).pipe(takeUntil(stop$), mergeMap(handle))` stops accepting and
 *   lets running connections finish, and unsubscribing the whole pipeline
 *   tears everything down.
 * - The TLS features of `@rxtls/core` apply (see {@link ListenOptions}):
 *   `alpnProtocols`, `sni`, `requestCert`, `ticketKeys`, `keylog`, …; each
 *   connection reports what was negotiated (`alpnProtocol`, `resumed`,
 *   `servername`, `peerCertificate`).
 *
 * @example
 * listen({ port: 8443, cert, key })
 *   .pipe(mergeMap((conn) => read(conn).pipe(write(conn))))
 *   .subscribe();
 */
export function listen(options: ListenOptions): Observable<TlsConnection> {
  return new Observable<TlsConnection>((subscriber) => {
    const handshaking = new Set<TlsEngine>();
    let closed = false;
    const reportClientError = (err: TlsError, remote: RemoteAddress) => {
      if (closed || !options.onClientError) return;
      try {
        options.onClientError(err, remote);
      } catch (callbackError) {
        subscriber.error(callbackError);
      }
    };
    const onConnection = (engine: TlsEngine) => {
      if (closed) {
        engine.destroy();
        return;
      }
      const remote: RemoteAddress = { address: engine.socket.remoteAddress, port: engine.socket.remotePort };
      handshaking.add(engine);
      engine.onsecure = () => {
        handshaking.delete(engine);
        if (closed) {
          engine.destroy();
          return;
        }
        subscriber.next(createConnection(engine));
      };
      engine.onerror = (err) => {
        handshaking.delete(engine);
        reportClientError(err, remote);
      };
      engine.onclose = () => handshaking.delete(engine);
    };
    let server: Server;
    try {
      checkOptions(options);
      checkPort(options.port ?? 0);
      // Builds the context (or applies the features to the given one) now:
      // a bad certificate or option errors this subscription at once.
      // allowHalfOpen: after the client's close_notify we may still write.
      server = createTlsServer({ ...pickDefined(options, SERVER_FIELDS), allowHalfOpen: true, transport: 'js' }, onConnection);
    } catch (err) {
      subscriber.error(err);
      return;
    }
    server.on('error', (err) => subscriber.error(err));
    // Refused before a TLS engine existed (a missing or untrusted PROXY header).
    server.on('tlsClientError', (err: TlsError, socket: Socket) =>
      reportClientError(err, { address: socket.remoteAddress, port: socket.remotePort }),
    );
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, ...(options.backlog !== undefined ? { backlog: options.backlog } : {}) }, () => {
      if (closed) return;
      try {
        options.onListening?.(server.address() as AddressInfo);
      } catch (err) {
        subscriber.error(err);
      }
    });
    return () => {
      closed = true;
      server.close();
      for (const engine of handshaking) engine.destroy();
      handshaking.clear();
    };
  });
}
