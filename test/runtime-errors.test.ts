import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyRuntimeFailure } from '../src/oci/runtime-errors.js';

describe("the OCI runtime's failure words", () => {
  // stderr as runc 1.1 (Debian 12) and crun print it.
  it.each([
    ['runc kill, unknown container', 'time="2026-11-30T18:07:35Z" level=error msg="container does not exist"', 'gone'],
    ['runc delete, unknown container', 'time="2026-11-30T18:07:35Z" level=error msg="container does not exist"', 'gone'],
    ['runc kill, exited container', 'time="2026-11-30T18:07:35Z" level=error msg="container not running"', 'not-running'],
    ['runc kill --all, processes gone', 'time="2026-11-30T18:07:35Z" level=error msg="kill: no such process"', 'not-running'],
    ['crun state, unknown container', 'error opening file `/run/crun/abc/status`: No such file or directory', 'gone'],
    ['crun kill, exited container', 'kill container: No such process', 'not-running'],
    ['runc delete, still running', 'time="2026-11-30T18:07:35Z" level=error msg="cannot delete container abc that is not stopped: running"', 'failed'],
    [
      'runc start, missing binary',
      'time="2026-11-30T18:07:35Z" level=error msg="runc run failed: exec: \\"nope\\": executable file not found in $PATH"',
      'failed',
    ],
    ['runc update, bad resources', 'time="2026-11-30T18:07:35Z" level=error msg="invalid memory value: -5"', 'failed'],
    ['a helper killed by a signal', 'killed by SIGKILL', 'failed'],
  ])('%s', (_what, text, meaning) => {
    expect(classifyRuntimeFailure(text)).toBe(meaning);
  });
});

describe('error kinds in the sources', () => {
  it('never throws UNKNOWN on purpose: it is kept for bugs', async () => {
    const offenders: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory() && e.name !== 'generated') await walk(full);
        else if (e.name.endsWith('.ts') && /RuntimeError\('unknown'/.test(await readFile(full, 'utf8'))) offenders.push(full);
      }
    };
    await walk(new URL('../src', import.meta.url).pathname);
    expect(offenders).toEqual([]);
  });
});
