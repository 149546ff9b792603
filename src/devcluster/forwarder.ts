import { connect, createServer, type Socket } from 'node:net';

export interface Forwarder {
  close(): Promise<void>;
}

/**
 * A TCP forwarder from listenHost:port to 127.0.0.1:port, so processes in a test's network
 * namespaces reach the apiserver through a bridge address while the apiserver itself stays on
 * loopback. TLS passes through untouched (the bridge address is in the serving certificate).
 */
export async function startForwarder(listenHost: string, port: number): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((downstream) => {
    const upstream = connect(port, '127.0.0.1');
    track(downstream);
    track(upstream);
    // An apiserver restart resets upstream connections; clients see a reset and reconnect.
    downstream.on('error', () => upstream.destroy());
    upstream.on('error', () => downstream.destroy());
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, listenHost, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.unref();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
