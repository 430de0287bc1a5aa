import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, invalidArgument } from '../../errors.js';
import type { Device, DeviceCgroup } from '../../oci/spec-types.js';
import { walkTree } from '../../util/walk.js';

export interface CriDevice {
  containerPath: string;
  hostPath: string;
  permissions: string;
}

/** Linux dev_t layout: major in bits 8-19 and 32-43, minor in 0-7 and 20-31. */
export function splitDev(rdev: number): { major: number; minor: number } {
  const big = BigInt(rdev);
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
  const minor = Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
  return { major, minor };
}

async function deviceOf(hostPath: string, containerPath: string): Promise<Device | undefined> {
  const st = await stat(hostPath);
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  const { major, minor } = splitDev(st.rdev);
  return { type, path: containerPath, major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

/** CRI devices as OCI device nodes plus the cgroup rules that allow them. */
export async function criDevices(devices: CriDevice[]): Promise<{ nodes: Device[]; rules: DeviceCgroup[] }> {
  const nodes: Device[] = [];
  const rules: DeviceCgroup[] = [];
  for (const d of devices) {
    if (!path.isAbsolute(d.hostPath) || !path.isAbsolute(d.containerPath))
      throw invalidArgument(`device paths must be absolute: ${d.hostPath} -> ${d.containerPath}`);
    const access = d.permissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(access)) throw invalidArgument(`device ${d.hostPath}: invalid permissions "${d.permissions}"`);
    let node: Device | undefined;
    try {
      node = await deviceOf(d.hostPath, d.containerPath);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw invalidArgument(`device ${d.hostPath} does not exist on the node`);
      throw err;
    }
    if (!node) throw invalidArgument(`${d.hostPath} is not a device`);
    nodes.push(node);
    rules.push({ allow: true, type: node.type, major: node.major, minor: node.minor, access });
  }
  return { nodes, rules };
}

/** Every device node of the host, for privileged containers (as CRI-O gives them). */
export async function hostDevices(dir = '/dev'): Promise<Device[]> {
  const out: Device[] = [];
  const skip = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/fd', '/dev/console', '/dev/ptmx']);
  await walkTree(dir, async (p, e) => {
    if (skip.has(p)) return false;
    if (e.isCharacterDevice() || e.isBlockDevice()) {
      const node = await deviceOf(p, p).catch(() => undefined);
      if (node) out.push(node);
    }
    return true;
  });
  return out;
}
