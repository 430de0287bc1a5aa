import { describe, expect, it } from 'vitest';
import { checkContainerConfig } from '../src/container/validate-config.js';
import type { ContainerConfig__Output } from '../src/generated/runtime/v1/ContainerConfig.js';
import type { SandboxMeta } from '../src/sandbox/sandbox.js';
import { checkDnsConfig, checkHostname, containerLogPath } from '../src/sandbox/validate-config.js';

const invalid = { kind: 'invalid-argument' };

describe('pod config checks', () => {
  it('takes any hostname the kernel and the pod files can carry, as containerd and CRI-O do', () => {
    for (const ok of ['web-0', 'a.b-c.d1', 'crictl_host', 'Web_0.EXAMPLE', '-web', 'ünï', 'x'.repeat(64)]) {
      expect(() => checkHostname(ok), ok).not.toThrow();
    }
    // HOST_NAME_MAX counts bytes: 33 two-byte characters are 66.
    expect(() => checkHostname('ü'.repeat(33))).toThrow(/66 bytes long; at most 64/);
    expect(() => checkHostname('x'.repeat(65))).toThrow(/at most 64/);
    for (const bad of ['we b', 'web\nx', 'web\tx', 'a/b', 'nul\0x', 'del\x7f', 'nbsp\u00a0x', 'c1\u0085x']) {
      expect(() => checkHostname(bad), JSON.stringify(bad)).toThrow(expect.objectContaining(invalid));
    }
    expect(() => checkHostname('a/b')).toThrow(/contains U\+002F/);
  });

  it('refuses DNS values that would add lines or words to resolv.conf', () => {
    const ok = { servers: ['10.0.0.10', 'fd00::a'], searches: ['ns.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'edns0'] };
    expect(() => checkDnsConfig(ok)).not.toThrow();
    const cases = [
      { ...ok, searches: ['\nnameserver 6.6.6.6'] },
      { ...ok, searches: [' padded'] },
      { ...ok, options: ['ndots:1\noptions debug'] },
      { ...ok, options: ['a#comment'] },
      { ...ok, servers: ['8.8.8.8 ; x'] },
      { ...ok, servers: ['dns.example'] },
      { ...ok, searches: Array.from({ length: 33 }, (_, i) => `d${i}`) },
      { ...ok, searches: ['x'.repeat(250), 'y'.repeat(250), ...Array.from({ length: 8 }, () => 'z'.repeat(250))] },
    ];
    for (const dns of cases) expect(() => checkDnsConfig(dns), JSON.stringify(dns)).toThrow(expect.objectContaining(invalid));
  });

  it('keeps a container log inside the pod log directory', () => {
    expect(containerLogPath('/var/log/pods/p', 'c/0.log')).toBe('/var/log/pods/p/c/0.log');
    expect(containerLogPath('/var/log/pods/p', '..log')).toBe('/var/log/pods/p/..log');
    expect(containerLogPath('/var/log/pods/p', '')).toBe('');
    for (const bad of ['/etc/cron.d/x', '../../../etc/x', 'c/../../x', '.', 'c/\0']) {
      expect(() => containerLogPath('/var/log/pods/p', bad), bad).toThrow(expect.objectContaining(invalid));
    }
    expect(() => containerLogPath('', 'c/0.log')).toThrow(/no log_directory/);
  });
});

describe('container config checks', () => {
  const pod = (privileged: boolean) => ({ id: 'p1', config: { logDirectory: '/logs', linux: { securityContext: { privileged } } } }) as unknown as SandboxMeta;
  const config = (extra: Partial<ContainerConfig__Output> = {}) =>
    ({
      metadata: { name: 'c', attempt: 0 },
      image: { image: 'busybox' },
      command: [],
      args: [],
      envs: [],
      workingDir: '',
      mounts: [],
      devices: [],
      logPath: 'c/0.log',
      linux: null,
      ...extra,
    }) as unknown as ContainerConfig__Output;

  it('refuses a privileged container in a pod that is not privileged', () => {
    const priv = config({ linux: { securityContext: { privileged: true } } } as Partial<ContainerConfig__Output>);
    expect(() => checkContainerConfig(priv, pod(false))).toThrow(/privileged container is not allowed/);
    expect(() => checkContainerConfig(priv, pod(true))).not.toThrow();
  });

  it('refuses NUL bytes, bad environment names, relative working directories and escaping logs', () => {
    expect(() => checkContainerConfig(config(), pod(false))).not.toThrow();
    const bad: Partial<ContainerConfig__Output>[] = [
      { args: ['a\0b'] },
      { envs: [{ key: 'A=B', value: Buffer.from('') }] },
      { envs: [{ key: '', value: Buffer.from('x') }] },
      { envs: [{ key: 'A', value: Buffer.from('x\0') }] },
      { workingDir: 'relative' },
      { logPath: '/etc/passwd' },
      { mounts: [{ containerPath: '/x\0', hostPath: '/tmp' }] } as unknown as Partial<ContainerConfig__Output>,
    ];
    for (const extra of bad) expect(() => checkContainerConfig(config(extra), pod(false)), JSON.stringify(extra)).toThrow(expect.objectContaining(invalid));
  });
});
