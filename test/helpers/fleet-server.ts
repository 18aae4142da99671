// One member of a test fleet, in its own process: a TLS server whose ticket
// keys come from RXTLS_TICKET_SECRET (hex). It answers each connection with
// `<resumed|full> @<server port> <client address>:<client port> <window>`
// and ends it.
//
// RXTLS_CLOCK=manual: the rotation reads a clock the parent sets over IPC
// ({ now } → { window }); otherwise createTlsServer's own ticketSecret
// option runs it on the real clock. RXTLS_PROXY=1: the listener expects the
// PROXY protocol from 127.0.0.1 and reports refused connections over IPC
// ({ refused: message }). RXTLS_REDIS_PORT: no ticket secret; sessions go
// to the Redis on 127.0.0.1 at that port (the session store, tickets off).
// It sends { port } once listening; a disconnect from the parent stops it.
import type { AddressInfo } from 'node:net';

import {
  createRedisSessionStore,
  createTlsServer,
  TicketKeyRotation,
  TLSServerContext,
  type NativeTlsConnection,
  type SecureConnection,
  type ServerOptions,
  type TlsEngine,
} from '@rxtls/core';
import { Redis } from 'ioredis';

const env = process.env;
const secret = env.RXTLS_TICKET_SECRET!;
const windowMs = Number(env.RXTLS_WINDOW_MS ?? 12 * 3600_000);
const send = (message: object) => process.send?.(message);

let clock = 0;
let rotation: TicketKeyRotation | undefined;
const options: ServerOptions = {};
if (env.RXTLS_CLOCK === 'manual') {
  const context = new TLSServerContext();
  context.load_certs(env.RXTLS_CERT!, env.RXTLS_KEY!);
  rotation = new TicketKeyRotation(context, { secret, windowMs, now: () => clock });
  options.context = context;
} else if (env.RXTLS_REDIS_PORT) {
  const redis = new Redis({ host: '127.0.0.1', port: Number(env.RXTLS_REDIS_PORT), enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // a failed lookup is a full handshake
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  Object.assign(options, { cert: env.RXTLS_CERT!, key: env.RXTLS_KEY!, sessionStore: createRedisSessionStore(redis, { prefix: 'fleet:' }) });
} else {
  Object.assign(options, { cert: env.RXTLS_CERT!, key: env.RXTLS_KEY!, ticketSecret: secret, ticketWindowMs: windowMs });
}
if (env.RXTLS_PROXY === '1') options.proxyProtocol = { trusted: ['127.0.0.1'] };

// native: see issue 12 (in progress) — the PROXY protocol and the session store run on the JS transport for now.
options.transport = options.proxyProtocol !== undefined || options.sessionStore !== undefined ? 'js' : 'native';
const server = createTlsServer(options, (engine: SecureConnection) => {
  engine.onsecure = () => {
    // The addresses: the JS transport's socket (a PROXY header's, behind one), or the native connection's.
    const s = 'socket' in engine ? (engine as TlsEngine).socket : (engine as NativeTlsConnection);
    engine.write(`${engine.info().resumed ? 'resumed' : 'full'} @${s.localPort} ${s.remoteAddress}:${s.remotePort} ${rotation?.window ?? '-'}\n`);
    engine.end();
  };
  engine.onerror = () => {};
});
server.on('tlsClientError', (err: Error) => send({ refused: err.message }));
process.on('message', (m: { now?: number }) => {
  if (typeof m.now === 'number' && rotation) {
    clock = m.now;
    send({ window: rotation.update() });
  }
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => send({ port: (server.address() as AddressInfo).port }));
