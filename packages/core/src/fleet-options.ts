// The server options for running many servers as one (README, "Running a
// fleet"): ticket keys derived from a shared secret on a shared schedule,
// and the PROXY protocol from a balancer in front.
import type { EventEmitter } from 'node:events';
import type * as net from 'node:net';

import { InvalidArgumentError, type TlsError } from './errors.js';
import { proxyProtocolGate, type ProxyProtocolOptions } from './proxy-listener.js';
import type { SSLContext } from './ssl-context.js';
import { TicketKeyRotation, type TicketSecret } from './ticket-rotation.js';

/** The fleet fields of `ServerOptions`. */
export interface FleetOptions {
  /**
   * A secret shared by every server of the fleet (at least 32 bytes, or
   * hex): their ticket keys are derived from it and the clock
   * (`TicketKeyRotation`), so any of them resumes any other's tickets.
   * Not with `ticketKeys`.
   */
  ticketSecret?: TicketSecret;
  /** With `ticketSecret`: the rotation window in ms (default 12 h); tickets are accepted through the next window. */
  ticketWindowMs?: number;
  /**
   * Expect the PROXY protocol (v1 or v2) from these balancers on every
   * connection; others are refused. Each connection then reports the
   * client's address and port (`engine.socket.remoteAddress`/`remotePort`).
   * A refused connection is reported as the server's `'tlsClientError'`
   * event, `(error, socket)`.
   */
  proxyProtocol?: ProxyProtocolOptions;
  /** Also a ServerOptions field: checked against `ticketSecret`. */
  ticketKeys?: Uint8Array;
}

/**
 * `ticketSecret`/`ticketWindowMs`: starts the ticket rotation on the server's
 * context, stopped at the server's 'close' (a net.Server or a native one).
 */
export function startTicketRotation(server: Pick<EventEmitter, 'once'>, context: SSLContext, options: FleetOptions): void {
  if (options.ticketSecret !== undefined) {
    if (options.ticketKeys !== undefined) throw new InvalidArgumentError('Give "ticketSecret" or "ticketKeys", not both');
    const rotation = new TicketKeyRotation(context, {
      secret: options.ticketSecret,
      ...(options.ticketWindowMs !== undefined ? { windowMs: options.ticketWindowMs } : {}),
    });
    server.once('close', () => rotation.stop());
  } else if (options.ticketWindowMs !== undefined) {
    throw new InvalidArgumentError('"ticketWindowMs" needs "ticketSecret"');
  }
}

/**
 * Applies the fleet options to a server `createTlsServer` made: starts the
 * ticket rotation (stopped when the server closes) and puts the PROXY
 * protocol gate in front of its accept handler.
 */
export function applyFleetOptions(server: net.Server, context: SSLContext, options: FleetOptions): net.Server {
  startTicketRotation(server, context, options);
  if (options.proxyProtocol !== undefined) {
    const accept = server.listeners('connection') as Array<(socket: net.Socket) => void>;
    const report = (error: TlsError, socket: net.Socket) => server.emit('tlsClientError', error, socket);
    const gate = proxyProtocolGate(options.proxyProtocol, (socket) => accept.forEach((f) => f.call(server, socket)), report);
    server.removeAllListeners('connection');
    server.on('connection', gate);
  }
  return server;
}
