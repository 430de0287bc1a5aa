import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkTree } from '../src/util/walk.js';

describe('walking a tree', () => {
  it('visits depth first, descends only where asked, and never through a symbolic link', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-walk-'));
    try {
      await mkdir(path.join(dir, 'a', 'b'), { recursive: true });
      await mkdir(path.join(dir, 'skip', 'hidden'), { recursive: true });
      await writeFile(path.join(dir, 'a', 'b', 'f'), 'x');
      await symlink(path.join(dir, 'a'), path.join(dir, 'link'));
      const seen: string[] = [];
      await walkTree(dir, async (full) => {
        seen.push(path.relative(dir, full));
        return !full.endsWith('skip');
      });
      expect(seen.sort()).toEqual(['a', 'a/b', 'a/b/f', 'link', 'skip']);
      await walkTree(path.join(dir, 'missing'), async () => true); // unreadable: nothing
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
