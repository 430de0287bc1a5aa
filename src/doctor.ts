/**
 * `berth doctor`: the host prerequisites, each with a one-line verdict,
 * so an operator sees what a node lacks before the kubelet does. Exit
 * status 1 when any check fails (warnings do not count).
 */

import { access, readFile, readdir, statfs } from 'node:fs/promises';
import { constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BerthConfig } from './config/schema.js';
import { readHostFacts } from './host/host-facts.js';
import { runCommand } from './util/exec.js';

type Verdict = 'ok' | 'warn' | 'fail';
interface Check {
  verdict: Verdict;
  what: string;
}

const MIN_FREE_BYTES = 2 ** 30;
const PLUGINS = ['loopback', 'bridge', 'host-local', 'portmap'];

async function executable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function versionOf(file: string): Promise<string> {
  const res = await runCommand(file, ['--version'], { timeoutMs: 5000 }).catch(() => undefined);
  return res?.stdout.split('\n')[0]?.trim() || res?.stderr.split('\n')[0]?.trim() || 'version unknown';
}

export async function doctorChecks(config: BerthConfig): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (ok: boolean, what: string, severity: Verdict = 'fail') => checks.push({ verdict: ok ? 'ok' : severity, what });

  add(process.getuid?.() === 0, 'running as root (the daemon needs it)');
  const [major = 0, minor = 0] = os
    .release()
    .split('.')
    .map((n) => Number.parseInt(n, 10));
  add(major > 5 || (major === 5 && minor >= 4), `kernel ${os.release()} (5.4 or newer: pidfds, overlayfs as berth uses it)`, 'warn');
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  add(/\boverlay\n/.test(filesystems), 'overlayfs available (container root filesystems)');
  const facts = await readHostFacts();
  const layout = facts.cgroupV2Only
    ? 'cgroup v2'
    : (await access('/sys/fs/cgroup/unified').then(
          () => true,
          () => false,
        ))
      ? 'cgroup v1 hybrid'
      : 'cgroup v1';
  add(true, `${layout}, controllers: ${[...facts.cgroupControllers].sort().join(' ') || 'none'}`);
  for (const c of ['cpu', 'memory', 'pids']) add(facts.cgroupControllers.has(c), `cgroup controller ${c}`);
  add(facts.cgroupControllers.has('hugetlb'), 'cgroup controller hugetlb (without it hugepage limits are left out)', 'warn');

  for (const [name, handler] of Object.entries(config.runtimes)) {
    const found = await executable(handler.runtime_path);
    add(found, `runtime ${name}: ${handler.runtime_path}${found ? ` (${await versionOf(handler.runtime_path)})` : ' is missing'}`);
  }
  const conmon = await executable(config.runtime.conmon);
  add(conmon, `conmon: ${config.runtime.conmon}${conmon ? ` (${await versionOf(config.runtime.conmon)})` : ' is missing'}`);

  for (const plugin of PLUGINS) {
    let where: string | undefined;
    for (const dir of config.network.cni_plugin_dirs) if (!where && (await executable(path.join(dir, plugin)))) where = path.join(dir, plugin);
    add(where !== undefined, `CNI plugin ${plugin}${where ? `: ${where}` : ` in none of ${config.network.cni_plugin_dirs.join(', ')}`}`);
  }
  const networks = (await readdir(config.network.cni_config_dir).catch(() => [] as string[])).filter((f) => /\.(conflist|conf|json)$/.test(f));
  add(
    networks.length > 0,
    `CNI network configuration in ${config.network.cni_config_dir}${networks.length ? `: ${networks.join(', ')}` : ': none (pods cannot start until one is added)'}`,
    'warn',
  );
  add(await executable('/usr/sbin/iptables'), 'iptables (port mappings, masquerading)', 'warn');

  for (const dir of [config.root, config.runroot]) {
    let probe = dir;
    while (
      !(await access(probe).then(
        () => true,
        () => false,
      )) &&
      probe !== '/'
    )
      probe = path.dirname(probe);
    const fs = await statfs(probe).catch(() => undefined);
    const free = fs ? fs.bavail * fs.bsize : 0;
    add(free >= MIN_FREE_BYTES, `free space for ${dir}: ${(free / 2 ** 30).toFixed(1)} GiB${free >= MIN_FREE_BYTES ? '' : ' (less than 1 GiB)'}`, 'warn');
  }
  const registries = await access(config.image.registries_conf).then(
    () => true,
    () => false,
  );
  add(registries, `registries.conf ${config.image.registries_conf}${registries ? '' : ' is absent (images come from the registries their names say)'}`, 'warn');
  const policy = await access(config.image.signature_policy).then(
    () => true,
    () => false,
  );
  add(
    policy,
    `signature policy ${config.image.signature_policy}${policy ? '' : ' is absent: every pull will be refused (apt-get install golang-github-containers-common)'}`,
  );
  return checks;
}

export async function doctorCommand(config: BerthConfig, out: NodeJS.WritableStream): Promise<number> {
  const checks = await doctorChecks(config);
  for (const c of checks) out.write(`${c.verdict.padEnd(5)} ${c.what}\n`);
  const failed = checks.filter((c) => c.verdict === 'fail').length;
  out.write(failed ? `${failed} check(s) failed\n` : 'every required check passed\n');
  return failed ? 1 : 0;
}
