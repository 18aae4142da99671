// Drivers for the documented SSL class on real descriptors, shared by the
// SSL test files.
import * as net from 'node:net';

import { SSL, TLSClientContext, TLSServerContext, type SSLContext } from '@rxtls/core';

import { withTimeout } from './net.js';
import type { Pki } from './pki.js';

/** Contexts for the SSL tests: a client trusting the test CA, a server with its certificate. */
export function sslContexts(p: Pki): { clientContext(): TLSClientContext; serverContext(): TLSServerContext } {
  return {
    clientContext() {
      const ctx = new TLSClientContext();
      ctx.set_verify_locations(p.file('ca', 'crt'));
      return ctx;
    },
    serverContext() {
      const ctx = new TLSServerContext();
      ctx.load_certs(p.server.cert, p.server.key);
      return ctx;
    },
  };
}

/** Reads text until the peer's close_notify (`''`); bounded. */
export async function readAll(ssl: SSL): Promise<string> {
  let text = '';
  for (let i = 0; i < 10_000; i++) {
    const s = await ssl.read();
    if (s === '') return text;
    text += s;
  }
  throw new Error('too many reads');
}

/**
 * Runs `serve` on an accepting SSL over the descriptor of the first
 * connection to a net server on 127.0.0.1 (the SSL is freed after), while
 * `client` connects to its port. Everything is closed at the end.
 */
export async function withServerSsl(
  ctx: SSLContext,
  serve: (ssl: SSL) => Promise<void>,
  client: (port: number) => Promise<void>,
): Promise<void> {
  const conns: net.Socket[] = [];
  let served: Promise<void> | undefined;
  // pauseOnConnect: Node must not read what OpenSSL is to read.
  const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
    conns.push(sock);
    const ssl = new SSL(ctx);
    ssl.set_fd((sock as unknown as { _handle: { fd: number } })._handle.fd);
    ssl.set_accept_state();
    served = serve(ssl).finally(() => ssl.free());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await withTimeout(client((srv.address() as net.AddressInfo).port), 15_000, 'client');
    await withTimeout(served ?? Promise.resolve(), 15_000, 'server');
  } finally {
    for (const c of conns) c.destroy();
    await new Promise((r) => srv.close(r));
  }
}
