import type { Stats } from 'node:fs';
import { connect } from 'node:net';
import { chmod, lstat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { makeDirs } from '../util/fs.js';

export class SocketInUseError extends Error {}

/** Whether something accepts connections on a unix socket path. */
export function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    const done = (alive: boolean) => {
      sock.destroy();
      resolve(alive);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(2000, () => done(true));
  });
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
  if (await answers(socketPath)) throw new SocketInUseError(`another process (a running berth?) is serving on ${socketPath}`);
  await unlink(socketPath);
}

export async function restrictSocket(socketPath: string): Promise<void> {
  await chmod(socketPath, 0o660);
}
