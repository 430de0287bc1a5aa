import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errnoCode } from '../errors.js';
import type { Logger } from '../log.js';
import { makeDirs } from './fs.js';

/**
 * Deletion off the request path. `discard` renames a directory into the
 * trash beside it (one rename on the same filesystem: the directory is gone
 * from where anyone looks at once), and a background loop deletes what the
 * trash holds, one entry at a time. A container's writable layer can be
 * large; removing it is no reason to keep RemoveContainer waiting.
 *
 * Each area (a base directory such as the root or the runroot) has its own
 * `.trash`, so the rename never crosses filesystems. Trash left by an
 * earlier run is emptied when the loop first runs.
 */
export class Trash {
  private running: Promise<void> | undefined;
  private again = false;
  private readonly made = new Set<string>();

  private readonly bases: string[];

  constructor(
    bases: string[],
    private readonly log: Logger,
  ) {
    // The innermost area wins when one lies inside another.
    this.bases = [...new Set(bases.map((b) => path.resolve(b)))].sort((a, b) => b.length - a.length);
  }

  private trashOf(dir: string): string {
    const base = this.bases.find((b) => path.resolve(dir).startsWith(`${b}/`));
    if (!base) throw new Error(`${dir} is outside every trash area`);
    return path.join(base, '.trash');
  }

  /** Moves `dir` into the trash and schedules its deletion; an absent directory is fine. */
  async discard(dir: string): Promise<void> {
    const trash = this.trashOf(dir);
    if (!this.made.has(trash)) {
      await makeDirs(trash, 0o700);
      this.made.add(trash);
    }
    try {
      await rename(dir, path.join(trash, `${path.basename(dir)}-${randomBytes(4).toString('hex')}`));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      return;
    }
    // Deleting is background work: the call only had to move the directory
    // out of sight; emptyOne logs what it cannot delete.
    void this.empty();
  }

  /** Starts (or re-runs) the background deletion; resolves when the trash was empty once. */
  empty(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        for (const base of this.bases) await this.emptyOne(path.join(base, '.trash'));
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }

  private async emptyOne(trash: string): Promise<void> {
    for (const entry of await readdir(trash).catch(() => [] as string[])) {
      await rm(path.join(trash, entry), { recursive: true, force: true }).catch((err: unknown) => {
        this.log.warn({ err, path: path.join(trash, entry) }, 'cannot delete from the trash; tried again at the next removal or start');
      });
    }
  }
}
