// The TLSSocket suites run on both transports: each file makes its sockets
// with `tlsSocket`, on the transport `RXTLS_TEST_TLS_SOCKET_TRANSPORT` names
// (native, the default). tls-socket-js.test.ts runs them again with 'js'.
import { TLSSocket, type TLSSocketTransport } from '@rxtls/core';

const chosen = process.env.RXTLS_TEST_TLS_SOCKET_TRANSPORT ?? 'native';
if (chosen !== 'native' && chosen !== 'js') throw new Error(`RXTLS_TEST_TLS_SOCKET_TRANSPORT: unknown transport ${chosen}`);

/** The transport this process's TLSSocket suites run on. */
export const TLS_SOCKET_TRANSPORT: TLSSocketTransport = chosen;

/** `new TLSSocket(...)` on `TLS_SOCKET_TRANSPORT`. */
export function tlsSocket(...args: ConstructorParameters<typeof TLSSocket>): TLSSocket {
  const socket = new TLSSocket(...args);
  socket.set_transport(TLS_SOCKET_TRANSPORT);
  return socket;
}
