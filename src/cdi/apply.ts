/**
 * Applying CDI edits to a container's OCI spec: for each requested
 * device, its spec's common edits (once per spec) and its own, in request
 * order. Device nodes get their type and numbers from the host node when
 * the spec leaves them out, and a device cgroup rule allowing exactly them;
 * environment entries replace variables of the same name; mounts and hooks
 * are appended; extra groups join the process's.
 */

import { stat } from 'node:fs/promises';
import { failedPrecondition } from '../errors.js';
import type { Device, Spec } from '../oci/spec-types.js';
import type { ResolvedDevice } from './registry.js';
import type { CdiDeviceNode, ContainerEdits } from './spec.js';

/** Linux's dev_t split, as glibc's major()/minor() do it. */
export function splitDevNumber(rdev: number): { major: number; minor: number } {
  const big = BigInt(rdev);
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & 0xfffff000n));
  const minor = Number((big & 0xffn) | ((big >> 12n) & 0xffffff00n));
  return { major, minor };
}

async function deviceOf(node: CdiDeviceNode): Promise<Device> {
  let { type, major, minor } = node;
  if (type === undefined || ((type === 'c' || type === 'b') && (major === undefined || minor === undefined))) {
    const hostPath = node.hostPath ?? node.path;
    const st = await stat(hostPath).catch(() => undefined);
    if (!st) throw failedPrecondition(`CDI device node ${hostPath} does not exist on this host`);
    const hostType = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : undefined;
    if (!hostType) throw failedPrecondition(`CDI device node ${hostPath} is not a device`);
    type ??= hostType;
    if (type === 'c' || type === 'b') {
      const numbers = splitDevNumber(st.rdev);
      major ??= numbers.major;
      minor ??= numbers.minor;
    }
  }
  const device: Device = { type: type as Device['type'], path: node.path };
  if (major !== undefined) device.major = major;
  if (minor !== undefined) device.minor = minor;
  if (node.fileMode !== undefined) device.fileMode = node.fileMode;
  if (node.uid !== undefined) device.uid = node.uid;
  if (node.gid !== undefined) device.gid = node.gid;
  return device;
}

async function applyEdits(spec: Spec, edits: ContainerEdits): Promise<void> {
  if (edits.env) {
    const names = new Set(edits.env.map((e) => e.slice(0, e.indexOf('='))));
    spec.process.env = [...spec.process.env.filter((e) => !names.has(e.slice(0, e.indexOf('=')))), ...edits.env];
  }
  for (const node of edits.deviceNodes ?? []) {
    const device = await deviceOf(node);
    spec.linux.devices = [...(spec.linux.devices ?? []).filter((d) => d.path !== device.path), device];
    if (device.type === 'c' || device.type === 'b') {
      spec.linux.resources ??= {};
      const rule = { allow: true, type: device.type, major: device.major, minor: device.minor, access: node.permissions || 'rwm' };
      spec.linux.resources.devices = [...(spec.linux.resources.devices ?? []), rule];
    }
  }
  for (const m of edits.mounts ?? []) {
    const options = m.options ?? [];
    const bind = !m.type || m.type === 'bind';
    spec.mounts = [
      ...spec.mounts.filter((x) => x.destination !== m.containerPath),
      {
        destination: m.containerPath,
        type: m.type ?? 'bind',
        source: m.hostPath,
        options: bind && !options.includes('bind') && !options.includes('rbind') ? ['rbind', ...options] : options,
      },
    ];
  }
  for (const h of edits.hooks ?? []) {
    spec.hooks ??= {};
    const hook = { path: h.path, ...(h.args ? { args: h.args } : {}), ...(h.env ? { env: h.env } : {}), ...(h.timeout ? { timeout: h.timeout } : {}) };
    spec.hooks[h.hookName] = [...(spec.hooks[h.hookName] ?? []), hook];
  }
  if (edits.additionalGids?.length) {
    const gids = new Set([...(spec.process.user.additionalGids ?? []), ...edits.additionalGids]);
    spec.process.user.additionalGids = [...gids];
  }
}

/** Applies the devices' edits; returns their qualified names (for the log). */
export async function applyCdiDevices(spec: Spec, devices: ResolvedDevice[]): Promise<string[]> {
  const specsDone = new Set<string>();
  for (const d of devices) {
    if (!specsDone.has(d.spec.file)) {
      await applyEdits(spec, d.spec.edits);
      specsDone.add(d.spec.file);
    }
    await applyEdits(spec, d.edits);
  }
  return devices.map((d) => `${d.spec.kind}=${d.name}`);
}
