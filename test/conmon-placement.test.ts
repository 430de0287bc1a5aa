import { describe, expect, it } from 'vitest';
import { startScope, startScopeArgs } from '../src/cgroups/systemd-scope.js';
import { conmonPlacement } from '../src/conmon/conmon-cgroup.js';
import type { RunResult } from '../src/util/exec.js';

describe('conmon placement', () => {
  it("is a cgroup under the pod's parent with cgroupfs, a scope in the pod's slice with systemd", () => {
    expect(conmonPlacement('cgroupfs', '/kubepods/besteffort/podx', 'abc')).toEqual({ cgroup: '/kubepods/besteffort/podx/berth-conmon-abc' });
    expect(conmonPlacement('cgroupfs', '', 'abc')).toEqual({ cgroup: '/berth/berth-conmon-abc' });
    expect(conmonPlacement('systemd', 'kubepods-besteffort-podx.slice', 'abc')).toEqual({
      scope: 'berth-conmon-abc.scope',
      slice: 'kubepods-besteffort-podx.slice',
    });
    expect(conmonPlacement('systemd', '', 'abc')).toEqual({ scope: 'berth-conmon-abc.scope', slice: 'system.slice' });
  });
});

describe('transient systemd scopes', () => {
  it('asks StartTransientUnit for the process, the slice and garbage collection of a failed scope', () => {
    const args = startScopeArgs('berth-conmon-abc.scope', 'kubepods.slice', 4242, 'conmon');
    expect(args.slice(0, 8)).toEqual([
      'call',
      '--quiet',
      'org.freedesktop.systemd1',
      '/org/freedesktop/systemd1',
      'org.freedesktop.systemd1.Manager',
      'StartTransientUnit',
      'ssa(sv)a(sa(sv))',
      'berth-conmon-abc.scope',
    ]);
    const props = args.slice(10, -1);
    // The property count busctl is given matches the properties that follow.
    expect(Number(args[9])).toBe(5);
    expect(props.join(' ')).toBe('PIDs au 1 4242 Slice s kubepods.slice Description s conmon CollectMode s inactive-or-failed DefaultDependencies b false');
    expect(args.at(-1)).toBe('0');
  });

  it('refuses names and pids that are not what it makes', () => {
    expect(() => startScopeArgs('x; rm', 'a.slice', 10, 'd')).toThrow(/not a scope unit name/);
    expect(() => startScopeArgs('a.scope', '../x', 10, 'd')).toThrow(/not a slice unit name/);
    expect(() => startScopeArgs('a.scope', 'a.slice', 1, 'd')).toThrow(/not a process/);
  });

  it("reports systemd's refusal with its words", async () => {
    const fail = (): Promise<RunResult> =>
      Promise.resolve({ code: 1, signal: null, stdout: '', stderr: 'Call failed: Unit berth-conmon-abc.scope already exists.\n' });
    await expect(startScope('berth-conmon-abc.scope', 'system.slice', 10, 'd', fail)).rejects.toThrow(
      'systemd did not create berth-conmon-abc.scope: Call failed: Unit berth-conmon-abc.scope already exists.',
    );
  });

  it('returns only once systemd has moved the process, which happens after the call answers', async () => {
    const ok = (): Promise<RunResult> => Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' });
    let reads = 0;
    const moving = (): Promise<string> =>
      Promise.resolve(
        ++reads < 3
          ? '1:pids:/system.slice/berth.service\n0::/system.slice/berth.service\n'
          : '1:pids:/system.slice/berth-conmon-abc.scope\n0::/system.slice/berth-conmon-abc.scope\n',
      );
    await expect(startScope('berth-conmon-abc.scope', 'system.slice', 10, 'd', ok, moving)).resolves.toBeUndefined();
    expect(reads).toBe(3);
    const never = (): Promise<string> => Promise.resolve('0::/system.slice/berth.service\n');
    await expect(startScope('berth-conmon-abc.scope', 'system.slice', 10, 'd', ok, never, 30)).rejects.toThrow(
      'systemd did not move process 10 into berth-conmon-abc.scope within 30 ms',
    );
    const gone = (): Promise<string> => Promise.resolve('');
    await expect(startScope('berth-conmon-abc.scope', 'system.slice', 10, 'd', ok, gone)).rejects.toThrow('process 10 exited before systemd moved it');
  });
});
