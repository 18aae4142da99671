// A cluster for the tests: the primary runs runWorkers and reports to the
// test over IPC ({ listening, pids }, { exit, restarted }, { worker }); each
// worker is a native rxtls server with reusePort and the fleet's ticket
// secret. On a connection a worker says `pid <pid> <full|resumed>`; then the
// client's `bye` ends it, `big` gets 64 MiB (bigBlock(0..63)) and the end,
// anything else is echoed.
import cluster from 'node:cluster';

import { createTlsServer, runWorkers, serveWorker, workerTicketSecret } from '@rxtls/core';

import { BIG_BLOCKS, bigBlock } from './cluster-big.js';

if (cluster.isPrimary) {
  const fleet = runWorkers({
    workers: Number(process.env.WORKERS ?? 2),
    graceMs: 20_000,
    restartDelayMs: 100,
    onListening: (port, pids) => process.send?.({ listening: port, pids }),
    onWorkerListening: (pid) => process.send?.({ worker: pid }),
    onWorkerExit: (pid, code, signal, restarted) => process.send?.({ exit: pid, code, signal, restarted }),
  });
  fleet.ready.catch((err: Error) => process.send?.({ failed: err.message }));
  // The test ends the primary with SIGTERM; runWorkers stops every worker first.
  void fleet;
} else {
  const server = createTlsServer(
    {
      transport: 'native',
      reusePort: true,
      cert: process.env.RXTLS_CERT!,
      key: process.env.RXTLS_KEY!,
      ticketSecret: workerTicketSecret(),
    },
    (c) => {
      c.onsecure = () => c.write(`pid ${process.pid} ${c.info().resumed ? 'resumed' : 'full'}\n`);
      c.ondata = (d) => {
        const line = d.toString().trim();
        if (line === 'bye') c.end();
        else if (line === 'big') {
          let k = 0;
          const pump = () => {
            while (k < BIG_BLOCKS) if (!c.write(bigBlock(k++))) return;
            c.end();
          };
          c.ondrain = pump;
          pump();
        } else c.write(d);
      };
      c.onerror = () => undefined;
    },
  );
  server.listen(Number(process.env.PORT), '127.0.0.1');
  serveWorker(server);
}
