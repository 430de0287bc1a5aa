import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type ErrorKind, errnoCode, errorKind, messageOf, resourceExhausted } from '../errors.js';

/**
 * A full disk or an exhausted quota, wherever berth writes (a pull's blobs,
 * an unpack, pod and bundle directories, records, logs), answers
 * RESOURCE_EXHAUSTED naming the filesystem, not UNKNOWN with an errno.
 * Detected on the error or its causes: Node's system errors (ENOSPC,
 * EDQUOT) and the words helpers such as runc print for them.
 */
const SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
const KEPT_KINDS = new Set<ErrorKind>(['invalid-argument', 'not-found', 'already-exists', 'canceled', 'deadline-exceeded', 'resource-exhausted']);
const SPACE_WORDS = /no space left on device|disk quota exceeded/i;

interface SpaceFailure {
  code: 'ENOSPC' | 'EDQUOT';
  /** The path the failed call named, when it named one. */
  path?: string;
}

/** The ENOSPC or EDQUOT somewhere in `err`'s cause chain, if any. */
export function spaceFailure(err: unknown): SpaceFailure | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = errnoCode(e);
    const file = (e as { path?: unknown; dest?: unknown }).path ?? (e as { dest?: unknown }).dest;
    const at = typeof file === 'string' ? { path: file } : quotedPath(messageOf(e));
    if (code && SPACE_CODES.has(code)) return { code: code as SpaceFailure['code'], ...at };
    const text = messageOf(e);
    if (SPACE_WORDS.test(text)) return { code: /quota/i.test(text) ? 'EDQUOT' : 'ENOSPC', ...at };
  }
  return undefined;
}

/** An absolute path Node or a helper quoted in its message ('...' or "..."). */
function quotedPath(message: string): { path?: string } {
  const m = /['"](\/[^'"\n]+)['"]/.exec(message);
  return m ? { path: m[1] } : {};
}

export interface MountEntry {
  mountpoint: string;
  fstype: string;
  source: string;
}

/** The mount that holds `file` (the longest mount point above it). */
export function mountOf(file: string, mountinfo: string): MountEntry | undefined {
  const target = path.resolve(file);
  let best: MountEntry | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    const mountpoint = left?.split(' ')[4]?.replace(/\\040/g, ' ');
    if (!mountpoint || !right) continue;
    const under = target === mountpoint || target.startsWith(mountpoint.endsWith('/') ? mountpoint : `${mountpoint}/`);
    if (under && (!best || mountpoint.length >= best.mountpoint.length)) {
      const [fstype = '', source = ''] = right.split(' ');
      best = { mountpoint, fstype, source };
    }
  }
  return best;
}

/**
 * `err` as RESOURCE_EXHAUSTED naming the full filesystem when it is a space
 * failure; any other error unchanged.
 */
export async function explainSpaceFailure(err: unknown, readMountinfo = () => readFile('/proc/self/mountinfo', 'utf8')): Promise<unknown> {
  // A request's own fault or an answer already chosen stays what it is.
  if (KEPT_KINDS.has(errorKind(err))) return err;
  const failure = spaceFailure(err);
  if (!failure) return err;
  const what = failure.code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device';
  let where = 'a filesystem berth writes to';
  if (failure.path) {
    const mount = mountOf(failure.path, await readMountinfo().catch(() => ''));
    where = mount ? `the filesystem mounted at ${mount.mountpoint} (${mount.fstype} ${mount.source}), writing ${failure.path}` : failure.path;
  }
  return resourceExhausted(`${what} on ${where}: ${messageOf(err)}`, err);
}

/**
 * Gives a system error without a path (FileHandle writes have none) the
 * file or directory it was writing, so the filesystem can be named.
 */
export function locate(err: unknown, file: string): unknown {
  if (errnoCode(err) && err instanceof Error && (err as { path?: unknown }).path === undefined) Object.assign(err, { path: file });
  return err;
}
