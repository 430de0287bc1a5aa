import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';

/**
 * Writes a file so that readers see either the old or the new content, never
 * a torn mix, even across a crash: temp file in the same directory, fsync,
 * rename over the target, fsync the directory.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Versioned JSON state: every file carries `version`, and readers refuse unknown ones. */
export async function writeJsonAtomic(file: string, version: number, value: object): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify({ version, ...value })}\n`);
}

export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  await makeDirs(dir, mode);
}

/**
 * mkdir -p that reports the real cause. Node's recursive mkdir answers
 * ENOENT when a component cannot be created for another reason (ENOSPC,
 * EDQUOT, EROFS...), which hid a full disk behind "no such file"; on ENOENT
 * the components are created one by one so the failing one's own error is
 * the one thrown.
 */
export async function makeDirs(dir: string, mode = 0o777): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    const parts: string[] = [];
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      parts.unshift(d);
      if (d === path.dirname(d)) break;
    }
    for (const d of parts) {
      await mkdir(d, { mode }).catch((e: unknown) => {
        if (errnoCode(e) !== 'EEXIST') throw e;
      });
    }
  }
}

export async function removeIfExists(p: string): Promise<void> {
  try {
    await rm(p, { recursive: true, force: true });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
