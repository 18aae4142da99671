// The @rxtls/rx server: listen() and a read(conn).pipe(write(conn)) echo,
// the pipeline the rx layer is for, on the native transport (rx's default,
// named here so the rows say what they measure). Only the echo protocol: the
// bulk and HTTP protocols answer interactively, which is a different program in rx.
import { TLSServerContext } from '@rxtls/core';
import { listen, read, write } from '@rxtls/rx';
import { catchError, EMPTY, finalize, mergeMap } from 'rxjs';

import type { BenchServer, ServerSetup } from './types.js';

export async function start(setup: ServerSetup): Promise<BenchServer> {
  if (setup.protocol !== 'echo') throw new Error(`the rx server runs the echo protocol only, not ${setup.protocol}`);
  const context = new TLSServerContext();
  context.load_certs(setup.cert, setup.key);
  let open = 0;
  let onPort: (port: number) => void = () => {};
  let onError: (err: unknown) => void = () => {};
  const ready = new Promise<number>((resolve, reject) => {
    onPort = resolve;
    onError = reject;
  });
  const subscription = listen({ context, transport: 'native', host: '127.0.0.1', port: 0, backlog: 4096, onListening: (a) => onPort(a.port) })
    .pipe(
      mergeMap((conn) => {
        open++;
        return read(conn).pipe(
          write(conn),
          // One client's truncation or reset must not end the server's stream.
          catchError(() => EMPTY),
          finalize(() => open--),
        );
      }),
    )
    .subscribe({ error: (err: unknown) => onError(err) });
  const port = await ready;
  return {
    port,
    connections: () => open,
    close: async () => subscription.unsubscribe(),
  };
}
