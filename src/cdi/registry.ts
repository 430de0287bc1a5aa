/**
 * The CDI devices of the node: every spec file (`*.json`, `*.yaml`) of the
 * configured directories (`runtime.cdi_spec_dirs`, default `/etc/cdi` then
 * `/var/run/cdi`; a later directory's device overrides an earlier one's of
 * the same kind and name, as the CDI registry orders them), re-read when a
 * file changes. A broken file is logged once and skipped. Requests name
 * devices fully qualified, `vendor.com/class=name`; `vendor.com/class=all`
 * is the spec's own `all` device if it has one, else every device of the
 * kind.
 */

import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, invalidArgument, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { type CdiSpec, type ContainerEdits, DEVICE_NAME, KIND, parseCdiSpec } from './spec.js';

const MAX_SPEC_FILE = 4 << 20;

/** A resolved device: its edits, and those of the spec it comes from. */
export interface ResolvedDevice {
  name: string;
  edits: ContainerEdits;
  spec: CdiSpec;
}

export class CdiRegistry {
  private stamp = '';
  private devices = new Map<string, ResolvedDevice>();
  private readonly kinds = new Map<string, ResolvedDevice[]>();
  private readonly reported = new Set<string>();

  constructor(
    private dirs: string[],
    private readonly log: Logger,
  ) {}

  setDirs(dirs: string[]): void {
    this.dirs = [...dirs];
    this.stamp = '';
  }

  /**
   * The devices `names` ask for, in order, each once. An unknown or
   * malformed name is INVALID_ARGUMENT naming it.
   */
  async resolve(names: string[]): Promise<ResolvedDevice[]> {
    await this.refresh();
    const out: ResolvedDevice[] = [];
    const seen = new Set<string>();
    const add = (d: ResolvedDevice) => {
      const key = `${d.spec.kind}=${d.name}`;
      if (!seen.has(key)) out.push(d);
      seen.add(key);
    };
    for (const raw of names) {
      const name = raw.trim();
      const eq = name.indexOf('=');
      const kind = name.slice(0, eq);
      const device = name.slice(eq + 1);
      if (eq < 0 || !KIND.test(kind) || !DEVICE_NAME.test(device))
        throw invalidArgument(`CDI device "${raw}" is not a fully qualified name (vendor.com/class=name)`);
      const exact = this.devices.get(name);
      if (exact) add(exact);
      else if (device === 'all' && this.kinds.has(kind)) for (const d of this.kinds.get(kind)!) add(d);
      else throw invalidArgument(`unknown CDI device "${name}" (no spec in ${this.dirs.join(', ')} defines it)`);
    }
    return out;
  }

  private async refresh(): Promise<void> {
    const files: string[] = [];
    for (const dir of this.dirs) {
      const names = await readdir(dir).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') this.log.warn({ dir, err: messageOf(err) }, 'cannot read a CDI spec directory');
        return [] as string[];
      });
      for (const n of names.filter((n) => /\.(json|ya?ml)$/.test(n)).sort()) files.push(path.join(dir, n));
    }
    const stamps = await Promise.all(files.map(async (f) => `${f}:${(await stat(f).catch(() => undefined))?.mtimeMs ?? 0}`));
    const stamp = stamps.join('|');
    if (stamp === this.stamp) return;
    const devices = new Map<string, ResolvedDevice>();
    for (const file of files) {
      try {
        const text = await readFile(file);
        if (text.length > MAX_SPEC_FILE) throw new Error(`larger than ${MAX_SPEC_FILE} bytes`);
        const spec = parseCdiSpec(file, text.toString('utf8'));
        // Later directories override: the last definition of a device wins.
        for (const [name, edits] of spec.devices) devices.set(`${spec.kind}=${name}`, { name, edits, spec });
      } catch (err) {
        const line = `${file}: ${messageOf(err)}`;
        if (!this.reported.has(line)) this.log.warn({ file, err: messageOf(err) }, 'skipping an invalid CDI spec file');
        this.reported.add(line);
      }
    }
    this.devices = devices;
    this.kinds.clear();
    for (const d of devices.values()) this.kinds.set(d.spec.kind, [...(this.kinds.get(d.spec.kind) ?? []), d]);
    this.stamp = stamp;
  }
}

/** The CDI device names a container asks for: CRI `CDIDevices`, then `cdi.k8s.io/` annotations (comma-separated). */
export function requestedCdiDevices(cdiDevices: { name: string }[], annotations: Record<string, string>): string[] {
  const names = cdiDevices.map((d) => d.name).filter(Boolean);
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith('cdi.k8s.io/')) continue;
    for (const n of value.split(',')) if (n.trim()) names.push(n.trim());
  }
  return names;
}
