/**
 * Pod namespaces pinned to files by the berth-pinns helper: new network,
 * IPC and UTS namespaces exist without any process in them, hold the
 * pod's hostname and sysctls, and are joined by path by every container.
 */

import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError, errnoCode } from '../errors.js';
import { MNT_DETACH, type NativeOps } from '../native/index.js';
import { failureText, runCommand } from '../util/exec.js';
import type { PodUserns } from './userns.js';

export interface PinRequest {
  dir: string;
  network: boolean;
  ipc: boolean;
  uts: boolean;
  hostname?: string;
  sysctls: string[];
  /** A pod user namespace that owns the others. */
  userns?: PodUserns;
}

export type PinnedNamespaces = { network?: string; ipc?: string; uts?: string; user?: string };

export interface NamespacePinner {
  pin(req: PinRequest): Promise<PinnedNamespaces>;
  unpin(files: PinnedNamespaces): Promise<void>;
  /** Whether every pinned namespace is still there (a reboot loses them all). */
  intact(files: PinnedNamespaces): Promise<boolean>;
}

export class PinnsHelper implements NamespacePinner {
  constructor(
    private readonly binary: string,
    private readonly native: NativeOps,
    private readonly timeoutMs = 0,
  ) {}

  async pin(req: PinRequest): Promise<PinnedNamespaces> {
    const files: PinnedNamespaces = {};
    const args: string[] = [];
    if (req.network) files.network = path.join(req.dir, 'net');
    if (req.ipc) files.ipc = path.join(req.dir, 'ipc');
    if (req.uts) files.uts = path.join(req.dir, 'uts');
    if (req.userns) files.user = path.join(req.dir, 'user');
    if (files.network) args.push('--net', files.network);
    if (files.ipc) args.push('--ipc', files.ipc);
    if (files.uts) args.push('--uts', files.uts);
    if (req.userns && files.user) {
      const map = (m: PodUserns['uidMappings']) => m.map((x) => `${x.containerID} ${x.hostID} ${x.size}`).join('\n');
      args.push('--user', files.user, '--uid-map', map(req.userns.uidMappings), '--gid-map', map(req.userns.gidMappings));
    }
    if (args.length === 0) return files;
    if (req.hostname && req.uts) args.push('--hostname', req.hostname);
    for (const s of req.sysctls) args.push('--sysctl', s);
    const res = await runCommand(this.binary, args, { timeoutMs: this.timeoutMs });
    if (res.code !== 0) {
      const text = failureText(res);
      const kind = /cannot (open|set) sysctl/.test(text) ? 'invalid-argument' : 'internal';
      throw new RuntimeError(kind, `creating pod namespaces: ${text}`);
    }
    return files;
  }

  /** Unmounts and removes pinned files; files already gone are fine. */
  async unpin(files: PinnedNamespaces): Promise<void> {
    for (const file of [files.network, files.ipc, files.uts, files.user]) {
      if (!file) continue;
      try {
        await this.native.umount2(file, MNT_DETACH);
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
      }
      await rm(file, { force: true });
    }
  }

  async intact(files: PinnedNamespaces): Promise<boolean> {
    const pinned = async (file: string) => {
      try {
        // A pinned namespace is an nsfs bind mount: its device differs from the directory's.
        const [f, d] = await Promise.all([stat(file), stat(path.dirname(file))]);
        return f.dev !== d.dev;
      } catch {
        return false;
      }
    };
    const checks = await Promise.all(Object.values(files).flatMap((file) => (file ? [pinned(file)] : [])));
    return checks.every(Boolean);
  }
}
