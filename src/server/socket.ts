import type { Stats } from 'node:fs';
import { connect } from 'node:net';
import { chmod, lstat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { StartError, errnoCode } from '../errors.js';
import { makeDirs } from '../util/fs.js';

export class SocketInUseError extends StartError {
  constructor(message: string) {
    super(message);
    this.name = 'SocketInUseError';
  }
}

/**
 * What connecting to a unix socket path finds: 'answers', or the errno
 * that refused it (ENOENT: no such socket, ECONNREFUSED: nothing listens,
 * EACCES: not allowed). A connection not refused within the timeout counts
 * as answering: a daemon too busy to accept is still there.
 */
export function probeSocket(socketPath: string): Promise<'answers' | string> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    const done = (found: string) => {
      sock.destroy();
      resolve(found);
    };
    sock.once('connect', () => done('answers'));
    sock.once('error', (err) => done(errnoCode(err) ?? 'error'));
    sock.setTimeout(2000, () => done('answers'));
  });
}

/** Whether something accepts connections on a unix socket path. */
export async function answers(socketPath: string): Promise<boolean> {
  return (await probeSocket(socketPath)) === 'answers';
}

/**
 * Prepares the socket path: creates its directory (0750) when missing,
 * replaces a stale socket file left by a crashed daemon, and refuses to
 * steal a socket another live process answers on.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  try {
    await lstat(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    await makeDirs(dir, 0o750);
    await chmod(dir, 0o750);
  }
  let st: Stats;
  try {
    st = await lstat(socketPath);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new SocketInUseError(`${socketPath} exists and is not a socket; refusing to replace it`);
  if (await answers(socketPath)) throw new SocketInUseError(`another process is serving on ${socketPath} (a running berth? systemctl status berth)`);
  await unlink(socketPath);
}

export async function restrictSocket(socketPath: string): Promise<void> {
  await chmod(socketPath, 0o660);
}
