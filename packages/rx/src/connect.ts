// connect(options): one client connection, emitted once its handshake is done.
import { clientContext, connectTls, HandshakeError, type SSLContext, type TlsEngine } from '@rxtls/core';
import { Observable } from 'rxjs';

import { checkOptions, createConnection, type TlsConnection } from './connection.js';
import { CLIENT_FIELDS, pickDefined, type ConnectOptions } from './options.js';

// A context is costly to make (it loads the system trust store), and a
// proxy calls connect(sameOptions) once per client: make one per options
// object and reuse it. A given `context` goes through clientContext() too,
// once, for `keylog` to be set on it.
const contexts = new WeakMap<ConnectOptions, SSLContext>();

function contextFor(options: ConnectOptions): SSLContext {
  let ctx = contexts.get(options);
  if (!ctx) {
    ctx = clientContext(options);
    contexts.set(options, ctx);
  }
  return ctx;
}

/**
 * Connects to a TLS server. Cold: each subscription opens its own connection.
 *
 * Emits one {@link TlsConnection} once the handshake is done, then
 * completes; the connection lives on, owned by the subscriber (read, write
 * or close it). A failure before that errors: a certificate the client does
 * not trust errors with a `CertificateError` whose `verifyMessage` says why
 * (`unable to get local issuer certificate`, `certificate has expired`,
 * `Hostname mismatch`, …). Unsubscribing before the handshake is done aborts
 * the attempt and closes the socket.
 *
 * The server certificate is verified against the system store plus `ca`,
 * and must match `host` (or `verifyHost`). Without a `context`, one is made
 * from `ca`/`cert`/`key` on the first subscription and reused by every later
 * subscription of the same options object (so do not mutate it afterwards);
 * pass a `context` to share one more widely.
 *
 * The TLS features of `@rxtls/core` apply: `alpnProtocols` (the result is
 * `conn.alpnProtocol`), `session` (resume an earlier connection's
 * `conn.session`; `conn.resumed` tells), `cert`/`key` for servers that ask
 * for a client certificate, `postHandshakeAuth`, `keylog`.
 *
 * @example
 * connect({ host: 'localhost', port: 8443, ca })
 *   .pipe(mergeMap((conn) => of('ping').pipe(write(conn), concatWith(read(conn)))))
 *   .subscribe();
 * // resume: connect({ host, port, ca, session: earlier.session })
 */
export function connect(options: ConnectOptions): Observable<TlsConnection> {
  return new Observable<TlsConnection>((subscriber) => {
    let engine: TlsEngine;
    try {
      checkOptions(options);
      engine = connectTls({
        ...pickDefined(options, CLIENT_FIELDS),
        host: options.host ?? 'localhost',
        port: options.port,
        // Carries ca, cert, key and keylog already.
        context: contextFor(options),
        // TLS half-close: after the server's close_notify we may still write.
        allowHalfOpen: true,
        transport: 'js', // TlsConnection is built over a TlsEngine
      });
    } catch (err) {
      subscriber.error(err);
      return;
    }
    let handed = false;
    engine.onsecure = () => {
      handed = true;
      let conn: TlsConnection;
      try {
        conn = createConnection(engine);
      } catch (err) {
        engine.destroy();
        subscriber.error(err);
        return;
      }
      subscriber.next(conn);
      subscriber.complete();
    };
    engine.onerror = (err) => subscriber.error(err);
    engine.onclose = (err) => subscriber.error(err ?? new HandshakeError('connection closed before the TLS handshake completed'));
    return () => {
      if (!handed) engine.destroy();
    };
  });
}
