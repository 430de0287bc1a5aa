/**
 * The hooks of the configured directories (`runtime.hooks_dirs`): every
 * `*.json` file, a file in a later directory masking the same name in an
 * earlier one (CRI-O's order: /usr/share/containers/oci/hooks.d, then
 * /etc/containers/oci/hooks.d), injected in the order of their lower-cased
 * names. The directories are re-read when a file in them changes; a broken
 * file is logged once and skipped, never fatal.
 */

import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Hooks, Spec } from '../oci/spec-types.js';
import { type HookDefinition, type HookSubject, hookMatches, parseHookFile } from './hook-file.js';

const MAX_HOOK_FILE = 1 << 20;

export class HooksDirs {
  private stamp = '';
  private hooks: HookDefinition[] = [];
  private readonly reported = new Set<string>();

  constructor(
    private dirs: string[],
    private readonly log: Logger,
  ) {}

  /** A reload's new directories. */
  setDirs(dirs: string[]): void {
    this.dirs = [...dirs];
    this.stamp = '';
  }

  /** The valid hook definitions now, in injection order. */
  async current(): Promise<HookDefinition[]> {
    const files = new Map<string, string>();
    for (const dir of this.dirs) {
      const names = await readdir(dir).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') this.log.warn({ dir, err: messageOf(err) }, 'cannot read a hooks directory');
        return [] as string[];
      });
      for (const name of names) if (name.endsWith('.json')) files.set(name, path.join(dir, name));
    }
    const ordered = [...files.entries()].sort(([a], [b]) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
    const stamps = await Promise.all(ordered.map(async ([, file]) => `${file}:${(await stat(file).catch(() => undefined))?.mtimeMs ?? 0}`));
    const stamp = stamps.join('|');
    if (stamp === this.stamp) return this.hooks;
    const hooks: HookDefinition[] = [];
    for (const [, file] of ordered) {
      try {
        const text = await readFile(file);
        if (text.length > MAX_HOOK_FILE) throw new Error(`larger than ${MAX_HOOK_FILE} bytes`);
        hooks.push(await parseHookFile(file, text.toString('utf8')));
      } catch (err) {
        const line = `${file}: ${messageOf(err)}`;
        if (!this.reported.has(line)) this.log.warn({ file, err: messageOf(err) }, 'skipping an invalid OCI hook file');
        this.reported.add(line);
      }
    }
    this.hooks = hooks;
    this.stamp = stamp;
    return hooks;
  }
}

/** The hooks of `defs` that match `subject`, by stage. */
export function matchingHooks(defs: HookDefinition[], subject: HookSubject): Hooks {
  const out: Hooks = {};
  for (const def of defs) {
    if (!hookMatches(def, subject)) continue;
    for (const stage of def.stages) out[stage] = [...(out[stage] ?? []), def.hook];
  }
  return out;
}

/** Adds the matching hooks to a container's spec, after any the spec already has. */
export function injectHooks(spec: Spec, defs: HookDefinition[], hasBindMounts: boolean): string[] {
  const subject: HookSubject = { annotations: spec.annotations ?? {}, command: spec.process.args[0] ?? '', hasBindMounts };
  const hooks = matchingHooks(defs, subject);
  const injected: string[] = [];
  for (const [stage, list] of Object.entries(hooks) as [keyof Hooks, NonNullable<Hooks[keyof Hooks]>][]) {
    spec.hooks ??= {};
    spec.hooks[stage] = [...(spec.hooks[stage] ?? []), ...list];
    injected.push(...list.map((h) => `${stage}:${h.path}`));
  }
  return injected;
}
