import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay from an address of a test's own network to a loopback
 * service of the host: nodes in network namespaces cannot reach the
 * host's 127.0.0.1, where the test registries listen. `pipe` gives each
 * direction backpressure.
 */
export interface TcpForward {
  /** host:port the relay listens on. */
  address: string;
  close(): Promise<void>;
}

export async function forwardTcp(listenHost: string, target: { host: string; port: number }): Promise<TcpForward> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `${listenHost}:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
