import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Visits every entry below `dir`, depth first, without following symbolic
 * links. `visit` returns true for a directory to descend into it; an
 * unreadable directory is skipped.
 */
export async function walkTree(dir: string, visit: (full: string, entry: Dirent) => Promise<boolean>): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if ((await visit(full, e)) && e.isDirectory()) await walkTree(full, visit);
  }
}
