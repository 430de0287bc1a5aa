/**
 * Applies NRI plugins' container adjustments to the OCI spec being
 * created, plugin by plugin in index order, so each sees what the ones
 * before it did. Within one creation each annotation, env var, mount
 * destination, device path, rlimit type and resource field belongs to the
 * first plugin that sets it: a second plugin setting it is a conflict, as
 * NRI's API defines, and fails the creation naming both. A key with a
 * leading "-" removes it (and frees it for a later plugin); removals are
 * applied before additions. Hooks are appended, owned by nobody.
 */

import type { ContainerAdjustment__Output } from '../generated/nri/nri/pkg/api/v1alpha1/ContainerAdjustment.js';
import type { Hooks__Output } from '../generated/nri/nri/pkg/api/v1alpha1/Hooks.js';
import type { LinuxResources__Output } from '../generated/nri/nri/pkg/api/v1alpha1/LinuxResources.js';
import type { Hook, HookStage, Spec } from '../oci/spec-types.js';

/** Thrown when two plugins set the same thing, or a plugin asks what berth cannot do. */
export class AdjustmentError extends Error {}

/** Who set what during one creation. */
export class Owners {
  private readonly owners = new Map<string, string>();

  claim(what: string, plugin: string): void {
    const owner = this.owners.get(what);
    if (owner !== undefined && owner !== plugin) throw new AdjustmentError(`NRI plugins ${owner} and ${plugin} both set ${what}`);
    this.owners.set(what, plugin);
  }

  release(what: string): void {
    this.owners.delete(what);
  }
}

const removal = (key: string) => (key.startsWith('-') ? key.slice(1) : undefined);
const NRI_HOOK_STAGES: Record<keyof Hooks__Output, HookStage> = {
  prestart: 'prestart',
  createRuntime: 'createRuntime',
  createContainer: 'createContainer',
  startContainer: 'startContainer',
  poststart: 'poststart',
  poststop: 'poststop',
};

/** A decimal string (protobufjs longs) as a number, refusing what a JSON number cannot hold exactly. */
function toNumber(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new AdjustmentError(`${what}: ${value} is out of range`);
  return n;
}

/**
 * An rlimit value. 2^64-1 (RLIM_INFINITY, what plugins send for
 * "unlimited") has no exact JSON number, and the rounded one overflows
 * runc's uint64: the largest exact integer stands for it, unlimited in
 * effect.
 */
function rlimitValue(value: string, what: string): number {
  if (/^\d+$/.test(value) && BigInt(value) > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return toNumber(value, what);
}

export function applyAdjustment(spec: Spec, adjust: ContainerAdjustment__Output, plugin: string, owners: Owners): void {
  // Removals first, each freeing its key, then additions.
  const annotations = Object.entries(adjust.annotations ?? {});
  const env = adjust.env ?? [];
  const mounts = adjust.mounts ?? [];
  const devices = adjust.linux?.devices ?? [];
  spec.annotations ??= {};
  for (const [key] of annotations) {
    const k = removal(key);
    if (k !== undefined) {
      delete spec.annotations[k];
      owners.release(`annotation ${k}`);
    }
  }
  for (const kv of env) {
    const k = removal(kv.key);
    if (k !== undefined) {
      spec.process.env = spec.process.env.filter((e) => e.split('=')[0] !== k);
      owners.release(`env ${k}`);
    }
  }
  for (const m of mounts) {
    const d = removal(m.destination);
    if (d !== undefined) {
      spec.mounts = spec.mounts.filter((x) => x.destination !== d);
      owners.release(`mount ${d}`);
    }
  }
  for (const d of devices) {
    const p = removal(d.path);
    if (p !== undefined) {
      spec.linux.devices = (spec.linux.devices ?? []).filter((x) => x.path !== p);
      owners.release(`device ${p}`);
    }
  }

  for (const [key, value] of annotations) {
    if (removal(key) !== undefined) continue;
    owners.claim(`annotation ${key}`, plugin);
    spec.annotations[key] = value;
  }
  for (const kv of env) {
    if (removal(kv.key) !== undefined) continue;
    if (kv.key === '' || kv.key.includes('=')) throw new AdjustmentError(`NRI plugin ${plugin}: invalid environment variable name ${JSON.stringify(kv.key)}`);
    owners.claim(`env ${kv.key}`, plugin);
    spec.process.env = [...spec.process.env.filter((e) => e.split('=')[0] !== kv.key), `${kv.key}=${kv.value}`];
  }
  for (const m of mounts) {
    if (removal(m.destination) !== undefined) continue;
    if (!m.destination.startsWith('/')) throw new AdjustmentError(`NRI plugin ${plugin}: mount destination ${JSON.stringify(m.destination)} is not absolute`);
    owners.claim(`mount ${m.destination}`, plugin);
    spec.mounts = [
      ...spec.mounts.filter((x) => x.destination !== m.destination),
      { destination: m.destination, type: m.type, source: m.source, options: m.options },
    ];
  }
  for (const d of devices) {
    if (removal(d.path) !== undefined) continue;
    if (!d.path.startsWith('/dev/')) throw new AdjustmentError(`NRI plugin ${plugin}: device path ${JSON.stringify(d.path)} is not under /dev`);
    if (!['c', 'b', 'u', 'p'].includes(d.type)) throw new AdjustmentError(`NRI plugin ${plugin}: device ${d.path} has type ${JSON.stringify(d.type)}`);
    owners.claim(`device ${d.path}`, plugin);
    const major = toNumber(d.major, `device ${d.path} major`);
    const minor = toNumber(d.minor, `device ${d.path} minor`);
    spec.linux.devices = [
      ...(spec.linux.devices ?? []).filter((x) => x.path !== d.path),
      {
        path: d.path,
        type: d.type as 'c' | 'b' | 'u' | 'p',
        major,
        minor,
        ...(d.fileMode ? { fileMode: d.fileMode.value } : {}),
        ...(d.uid ? { uid: d.uid.value } : {}),
        ...(d.gid ? { gid: d.gid.value } : {}),
      },
    ];
    // The device is usable only where the device cgroup allows it.
    spec.linux.resources ??= {};
    spec.linux.resources.devices = [...(spec.linux.resources.devices ?? []), { allow: true, type: d.type === 'u' ? 'c' : d.type, major, minor, access: 'rwm' }];
  }
  for (const r of adjust.rlimits ?? []) {
    if (!/^RLIMIT_[A-Z]+$/.test(r.type)) throw new AdjustmentError(`NRI plugin ${plugin}: invalid rlimit type ${JSON.stringify(r.type)}`);
    owners.claim(`rlimit ${r.type}`, plugin);
    const hard = rlimitValue(r.hard, `rlimit ${r.type}`);
    const soft = rlimitValue(r.soft, `rlimit ${r.type}`);
    if (soft > hard) throw new AdjustmentError(`NRI plugin ${plugin}: rlimit ${r.type} soft ${soft} is above hard ${hard}`);
    spec.process.rlimits = [...(spec.process.rlimits ?? []).filter((x) => x.type !== r.type), { type: r.type, hard, soft }];
  }
  if (adjust.hooks) appendHooks(spec, adjust.hooks);
  const linux = adjust.linux;
  if (linux?.oomScoreAdj) {
    owners.claim('oom score adjustment', plugin);
    const v = toNumber(linux.oomScoreAdj.value, 'oom_score_adj');
    if (v < -1000 || v > 1000) throw new AdjustmentError(`NRI plugin ${plugin}: oom_score_adj ${v} is outside -1000..1000`);
    spec.process.oomScoreAdj = v;
  }
  if (linux?.cgroupsPath) throw new AdjustmentError(`NRI plugin ${plugin}: moving a container to another cgroup (cgroups_path) is not supported`);
  if (linux?.resources) applyResources(spec, linux.resources, plugin, owners);
  if ((adjust.CDIDevices ?? []).length > 0) throw new AdjustmentError(`NRI plugin ${plugin}: CDI devices from NRI plugins are not supported yet`);
}

function appendHooks(spec: Spec, hooks: Hooks__Output): void {
  for (const [nriStage, stage] of Object.entries(NRI_HOOK_STAGES) as [keyof Hooks__Output, HookStage][]) {
    const added = (hooks[nriStage] ?? []).map(
      (h): Hook => ({
        path: h.path,
        ...(h.args.length ? { args: h.args } : {}),
        ...(h.env.length ? { env: h.env } : {}),
        ...(h.timeout ? { timeout: toNumber(h.timeout.value, 'hook timeout') } : {}),
      }),
    );
    if (added.length === 0) continue;
    if (added.some((h) => !h.path.startsWith('/'))) throw new AdjustmentError('an NRI hook path is not absolute');
    spec.hooks ??= {};
    spec.hooks[stage] = [...(spec.hooks[stage] ?? []), ...added];
  }
}

function applyResources(spec: Spec, r: LinuxResources__Output, plugin: string, owners: Owners): void {
  spec.linux.resources ??= {};
  const res = spec.linux.resources;
  const set = (what: string, apply: () => void) => {
    owners.claim(what, plugin);
    apply();
  };
  const mem = r.memory;
  if (mem?.limit) set('memory limit', () => (res.memory = { ...res.memory, limit: toNumber(mem.limit!.value, 'memory limit') }));
  if (mem?.reservation) set('memory reservation', () => (res.memory = { ...res.memory, reservation: toNumber(mem.reservation!.value, 'memory reservation') }));
  if (mem?.swap) set('memory swap', () => (res.memory = { ...res.memory, swap: toNumber(mem.swap!.value, 'memory swap') }));
  if (mem?.swappiness) set('memory swappiness', () => (res.memory = { ...res.memory, swappiness: toNumber(mem.swappiness!.value, 'memory swappiness') }));
  if (mem?.disableOomKiller) set('memory disable_oom_killer', () => (res.memory = { ...res.memory, disableOOMKiller: mem.disableOomKiller!.value }));
  const cpu = r.cpu;
  if (cpu?.shares) set('cpu shares', () => (res.cpu = { ...res.cpu, shares: toNumber(cpu.shares!.value, 'cpu shares') }));
  if (cpu?.quota) set('cpu quota', () => (res.cpu = { ...res.cpu, quota: toNumber(cpu.quota!.value, 'cpu quota') }));
  if (cpu?.period) set('cpu period', () => (res.cpu = { ...res.cpu, period: toNumber(cpu.period!.value, 'cpu period') }));
  if (cpu?.cpus) set('cpuset cpus', () => (res.cpu = { ...res.cpu, cpus: cpu.cpus }));
  if (cpu?.mems) set('cpuset mems', () => (res.cpu = { ...res.cpu, mems: cpu.mems }));
  if (r.pids && r.pids.limit !== '0') set('pids limit', () => (res.pids = { limit: toNumber(r.pids!.limit, 'pids limit') }));
  for (const h of r.hugepageLimits ?? []) {
    set(`hugepage limit ${h.pageSize}`, () => {
      res.hugepageLimits = [
        ...(res.hugepageLimits ?? []).filter((x) => x.pageSize !== h.pageSize),
        { pageSize: h.pageSize, limit: toNumber(h.limit, 'hugepage limit') },
      ];
    });
  }
  for (const [key, value] of Object.entries(r.unified ?? {})) set(`unified ${key}`, () => (res.unified = { ...res.unified, [key]: value }));
  if (r.blockioClass || r.rdtClass) throw new AdjustmentError(`NRI plugin ${plugin}: block I/O and RDT classes are not supported`);
}
