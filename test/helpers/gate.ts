// A TCP forwarder on 127.0.0.1 that holds each connection until `open()`
// says so, then pipes it to `targetPort`. A test opens the gate from a
// timer on its own loop: a call that waits through the gate proves the loop
// kept running while it waited, with no timing assumption.
import * as net from 'node:net';

export interface Gate {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  stop(): Promise<void>;
}

export async function startGate(targetPort: number, open: () => boolean): Promise<Gate> {
  const sockets = new Set<net.Socket>();
  const checks = new Set<NodeJS.Timeout>();
  let accepted = 0;
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    const check = setInterval(() => {
      if (!open()) return;
      clearInterval(check);
      checks.delete(check);
      const upstream = net.connect(targetPort, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    }, 2);
    checks.add(check);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    async stop() {
      for (const c of checks) clearInterval(c);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
