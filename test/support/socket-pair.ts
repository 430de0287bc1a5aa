import { type AddressInfo, type Socket, connect, createServer } from 'node:net';

/** Two connected sockets on loopback: [client, server]. */
export async function socketPair(): Promise<[Socket, Socket]> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const accepted = new Promise<Socket>((resolve) => srv.once('connection', resolve));
  const client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  srv.close();
  return [client, server];
}

/**
 * Socket pairs for one describe block, each destroyed after its test:
 * call in the block's body, then `await pair()` in the tests.
 */
export function socketPairsPerTest(afterEach: (fn: () => void) => void): () => Promise<[Socket, Socket]> {
  const open: Socket[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
  });
  return async () => {
    const p = await socketPair();
    open.push(...p);
    return p;
  };
}
