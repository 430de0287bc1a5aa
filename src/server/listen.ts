import { type Server as NetServer, type Socket, createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { FilteredConnection } from './h2/authority-filter.js';

/**
 * Serves the gRPC server on a unix socket through berth's own listener, so
 * that every connection passes the authority filter first (kubelets before
 * 1.23 name the socket's path as the HTTP/2 authority, which Node's HTTP/2
 * refuses; see h2/authority-filter.ts).
 */
export interface CriListener {
  /** Stops accepting connections and closes those still open (after gRPC's own shutdown). */
  close(): void;
}

export function listenCri(server: grpc.Server, socketPath: string): Promise<CriListener> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const listener: NetServer = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(new FilteredConnection(socket));
  });
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(socketPath, () => {
      listener.off('error', reject);
      resolve({
        close: () => {
          listener.close();
          injector.destroy();
          for (const socket of sockets) socket.destroy();
        },
      });
    });
  });
}
