import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnOps } from '../src/native/index.js';
import { type Child, spawnChild } from '../src/util/spawn.js';

function finished(child: Child): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null, signal: string | null) => resolve({ code, signal, out, err }));
  });
}

describe('spawning helper programs', () => {
  it('uses posix_spawn with pidfds on this kernel', () => {
    expect(spawnOps()).toBeDefined();
  });

  it('passes arguments, the environment, the working directory and stdin; reports output and the exit code', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-spawn-'));
    try {
      const child = spawnChild('/bin/sh', ['-c', 'read line; echo "$line $1 $GREETING $(pwd)"; echo oops >&2; exit 7', 'sh', 'arg'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { GREETING: 'hello', PATH: '/usr/bin:/bin' },
        cwd: dir,
      });
      child.stdin!.end('from-stdin\n');
      const r = await finished(child);
      expect(r).toMatchObject({ code: 7, signal: null, out: `from-stdin arg hello ${dir}\n`, err: 'oops\n' });
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('reports death by signal, with default signal dispositions in the child (Node ignores SIGPIPE)', async () => {
    const child = spawnChild('/bin/sh', ['-c', 'grep SigIgn /proc/self/status; kill -TERM $$'], { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
    const r = await finished(child);
    expect(r.signal).toBe('SIGTERM');
    expect(r.code).toBeNull();
    // Signals 1-31 (SIGPIPE among them) at their defaults; glibc keeps its own two real-time signals aside.
    expect(BigInt(`0x${r.out.trim().split('\t')[1]}`) & 0x7fffffffn).toBe(0n);
  });

  it('kills on request, and not after the exit was collected', async () => {
    const child = spawnChild('/bin/sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore'], env: {} });
    const done = finished(child);
    expect(child.kill('SIGKILL')).toBe(true);
    expect((await done).signal).toBe('SIGKILL');
    expect(child.kill('SIGKILL')).toBe(false);
  });

  it('hands extra descriptors to the child and can start it in a session of its own', async () => {
    const child = spawnChild('/bin/sh', ['-c', 'echo fd3 >&3; cat /proc/self/stat >&3'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: {},
      detached: true,
    });
    let got = '';
    child.stdio[3]!.on('data', (d: Buffer) => (got += d.toString()));
    await finished(child);
    const [first, stat] = got.split('\n');
    expect(first).toBe('fd3');
    // Fields after the command: state ppid pgrp session; a new session's id is the child's pid.
    const fields = stat!.slice(stat!.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[3])).toBe(child.pid);
    expect(Number(fields[3])).not.toBe(Number((await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ')[3]));
  });

  it('reports a program that does not exist as an ENOENT error', async () => {
    const child = spawnChild('/no/such/program', [], { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    await expect(finished(child)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('kills with SIGTERM on abort and reports an AbortError', async () => {
    const controller = new AbortController();
    const child = spawnChild('/bin/sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore'], env: {}, signal: controller.signal });
    const exited = new Promise((resolve) => child.once('exit', (_c: unknown, s: unknown) => resolve(s)));
    const failed = new Promise((resolve) => child.once('error', resolve));
    controller.abort();
    expect(await failed).toMatchObject({ name: 'AbortError' });
    expect(await exited).toBe('SIGTERM');
  });
});

describe('helpers with a time limit', () => {
  it('kills a helper that outlives its limit and fails with its words', async () => {
    const { runCommand } = await import('../src/util/exec.js');
    const started = Date.now();
    await expect(runCommand('/bin/sh', ['-c', 'echo stuck >&2; exec sleep 30'], { timeoutMs: 300 })).rejects.toMatchObject({
      kind: 'deadline-exceeded',
      message: expect.stringMatching(/^sh echo stuck.* did not finish within 0.3s and was killed \(stuck\)$/),
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("stops waiting for pipes that a killed helper's children keep open", async () => {
    const { runCommand } = await import('../src/util/exec.js');
    const started = Date.now();
    await expect(runCommand('/bin/sh', ['-c', 'sleep 5 & sleep 30'], { timeoutMs: 200 })).rejects.toMatchObject({ kind: 'deadline-exceeded' });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('answers as before within the limit', async () => {
    const { runCommand } = await import('../src/util/exec.js');
    expect(await runCommand('/bin/sh', ['-c', 'echo ok'], { timeoutMs: 5000 })).toMatchObject({ code: 0, stdout: 'ok\n' });
  });
});
