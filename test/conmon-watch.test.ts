import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConmonWatcher } from '../src/conmon/conmon-watch.js';
import { spawnOps } from '../src/native/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-conmon-watch-'));
  // A process whose name is "conmon", as the watcher checks.
  await copyFile('/bin/sleep', path.join(dir, 'conmon'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A "conmon" that daemonizes like the real one: its parent exits, so it is not the test's child. */
async function daemonizedConmon(): Promise<number> {
  const pidfile = path.join(dir, 'conmon-pidfile');
  await new Promise<void>((resolve, reject) => {
    const sh = spawn('/bin/sh', ['-c', `"${dir}/conmon" 30 </dev/null >/dev/null 2>&1 & echo $! > "${pidfile}"`], { stdio: 'ignore' });
    sh.once('exit', () => resolve());
    sh.once('error', reject);
  });
  return Number.parseInt(await readFile(pidfile, 'utf8'), 10);
}

function gone(watcher: ConmonWatcher): Promise<{ pid: number; stop: (() => void) | undefined }> {
  return new Promise((resolve, reject) => {
    let stop: (() => void) | undefined;
    watcher
      .watch(dir, (pid) => resolve({ pid, stop }))
      .then((s) => {
        stop = s;
      }, reject);
  });
}

describe("watching a container's conmon", () => {
  it.runIf(spawnOps() !== undefined)('tells of the exit of a conmon that is not berth’s child through its pidfd, within moments', async () => {
    const pid = await daemonizedConmon();
    const watcher = new ConmonWatcher();
    const told = gone(watcher);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    expect((await told).pid).toBe(pid);
    expect(Date.now() - killedAt).toBeLessThan(500);
  });

  it('falls back to checking the pid once a second without pidfds', async () => {
    const child = spawn(path.join(dir, 'conmon'), ['30'], { stdio: 'ignore' });
    await writeFile(path.join(dir, 'conmon-pidfile'), String(child.pid));
    const told = gone(new ConmonWatcher(null));
    child.kill('SIGKILL');
    expect((await told).pid).toBe(child.pid);
  });

  it('tells at once of a pid that is dead or not a conmon (berth was down when it died)', async () => {
    await writeFile(path.join(dir, 'conmon-pidfile'), String(process.pid));
    expect((await gone(new ConmonWatcher())).pid).toBe(process.pid);
  });

  it('has nothing to watch without a pid file', async () => {
    expect(await new ConmonWatcher().watch(dir, () => undefined)).toBeUndefined();
  });
});
