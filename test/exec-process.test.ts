import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecProcess } from '../src/container/exec-process.js';
import { processStartTime } from '../src/container/process-info.js';

/**
 * The exec'd process is killed by the identity it had when its pid file
 * appeared: a pid that names another process by the time of the kill (a
 * reused pid) is left alone. Real processes stand in for runc's.
 */
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['100'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

const exited = (c: ChildProcess) => new Promise<string | null>((resolve) => c.once('exit', (_code, sig) => resolve(sig)));

describe('ExecProcess', () => {
  it('kills the process its pid file named when it appeared', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-exec-process-'));
    const pidFile = path.join(dir, 'exec.pid');
    const exec = new ExecProcess(pidFile, undefined, undefined, 5);
    const victim = sleeper();
    await writeFile(pidFile, String(victim.pid)); // runc writes it once the process exists
    await new Promise((r) => setTimeout(r, 50));
    const gone = exited(victim);
    expect(await exec.kill()).toBe(true);
    expect(await gone).toBe('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves alone a process that has the pid now but did not when the file appeared', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-exec-process-'));
    const pidFile = path.join(dir, 'exec.pid');
    const bystander = sleeper();
    await writeFile(pidFile, String(bystander.pid));
    const real = (await processStartTime(bystander.pid!))!;
    // Pinned under another start time: the process the file named has ended and its pid was reused.
    let calls = 0;
    const exec = new ExecProcess(pidFile, undefined, async (pid) => (calls++ === 0 ? `${real}0` : processStartTime(pid)), 5);
    await new Promise((r) => setTimeout(r, 50));
    expect(await exec.kill()).toBe(false);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    expect(await processStartTime(bystander.pid!)).toBe(real);
    await rm(dir, { recursive: true, force: true });
  });

  it('kills nothing when no pid file ever came', async () => {
    const exec = new ExecProcess(path.join(tmpdir(), `berth-no-such-${process.pid}.pid`), undefined, undefined, 5, 4);
    expect(await exec.kill()).toBe(false);
  });
});
