/**
 * Finds the CNI network to use the way libcni does: `.conflist`, `.conf`
 * and `.json` files in lexical order, the first valid one (or the one with
 * the configured name). The directory is re-read whenever its files
 * change, so a network added, changed or removed at run time is noticed
 * without a restart.
 */

import { access, readFile, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { errnoCode, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { type LoadedConfigFile, type NetworkConfigList, SUPPORTED_VERSIONS } from './types.js';

export interface NetworkSelection {
  ready: boolean;
  /** Why the network is not ready, for Status and the log. */
  message: string;
  network?: NetworkConfigList;
  file?: string;
}

export function parseNetworkConfig(file: string, text: string): NetworkConfigList {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`invalid JSON: ${messageOf(err)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object');
  const isList = file.endsWith('.conflist') || Array.isArray(raw.plugins);
  let list: NetworkConfigList;
  if (isList) {
    if (!Array.isArray(raw.plugins) || raw.plugins.length === 0) throw new Error('"plugins" must be a non-empty array');
    list = { ...(raw as object), plugins: raw.plugins } as NetworkConfigList;
  } else {
    // A single plugin configuration: the list of one.
    const { cniVersion, name, ...plugin } = raw;
    list = { cniVersion: cniVersion as string, name: name as string, plugins: [plugin as NetworkConfigList['plugins'][number]] };
  }
  if (typeof list.name !== 'string' || list.name === '') throw new Error('"name" is missing');
  if (typeof list.cniVersion !== 'string' || !(SUPPORTED_VERSIONS as readonly string[]).includes(list.cniVersion)) {
    throw new Error(`unsupported cniVersion "${String(list.cniVersion)}" (berth speaks ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  for (const [i, p] of list.plugins.entries()) {
    if (typeof p !== 'object' || p === null || typeof p.type !== 'string' || p.type === '' || /[/\\]/.test(p.type)) {
      throw new Error(`plugin ${i} has no valid "type"`);
    }
  }
  return list;
}

/** The file names berth's packaging has given its own default network. */
export const BERTH_DEFAULT_NETWORK_FILES = ['99-berth-bridge.conflist', '10-berth-bridge.conflist'];

/**
 * Another valid network that berth's own default hides: the default is
 * meant for nodes with no network at all, and sorts after the usual
 * cluster files; an older install's name (10-) or an unusual cluster file
 * name can still put it first.
 */
function shadowedBy(chosen: LoadedConfigFile, candidates: LoadedConfigFile[]): LoadedConfigFile | undefined {
  if (!BERTH_DEFAULT_NETWORK_FILES.includes(path.basename(chosen.file)) || chosen.config?.name !== 'berth') return undefined;
  return candidates.find((c) => c !== chosen && c.config?.name !== 'berth');
}

/** berth's own default, valid and present, when another network was chosen before it. */
function unusedDefault(chosen: LoadedConfigFile, files: LoadedConfigFile[]): LoadedConfigFile | undefined {
  if (chosen.config?.name === 'berth') return undefined;
  return files.find((f) => f.config?.name === 'berth' && BERTH_DEFAULT_NETWORK_FILES.includes(path.basename(f.file)));
}

export class CniConfigSource {
  private cacheKey = '';
  private selection: NetworkSelection = { ready: false, message: 'not loaded yet' };
  private lastMessage = '';

  constructor(
    private dir: string,
    private pluginDirs: string[],
    private preferred: string,
    private readonly log: Logger,
  ) {}

  /** A reload's new directories or network name: the next `current()` reads afresh. */
  reconfigure(dir: string, pluginDirs: string[], preferred: string): void {
    this.dir = dir;
    this.pluginDirs = [...pluginDirs];
    this.preferred = preferred;
    this.cacheKey = '';
    this.selection = { ready: false, message: 'not loaded yet' };
  }

  /** The network to use now; re-reads the directory only when it changed. */
  async current(): Promise<NetworkSelection> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => /\.(conflist|conf|json)$/.test(n)).sort();
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      names = [];
    }
    const stamps = await Promise.all(
      names.map(async (n) => {
        const st = await stat(path.join(this.dir, n)).catch(() => undefined);
        return `${n}:${st?.mtimeMs ?? 0}:${st?.size ?? 0}`;
      }),
    );
    const key = stamps.join('|');
    if (key !== this.cacheKey || !this.selection.ready) {
      this.cacheKey = key;
      this.selection = await this.select(names);
      if (this.selection.message !== this.lastMessage) {
        this.lastMessage = this.selection.message;
        if (this.selection.ready) this.log.info({ network: this.selection.network?.name, file: this.selection.file }, 'CNI network ready');
        else this.log.warn({ dir: this.dir }, `CNI network not ready: ${this.selection.message}`);
      }
    }
    return this.selection;
  }

  private async select(names: string[]): Promise<NetworkSelection> {
    const files: LoadedConfigFile[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      try {
        files.push({ file, config: parseNetworkConfig(file, await readFile(file, 'utf8')) });
      } catch (err) {
        files.push({ file, error: messageOf(err) });
      }
    }
    const problems = files.filter((f) => f.error).map((f) => `${path.basename(f.file)}: ${f.error}`);
    const candidates = files.filter((f) => f.config && (!this.preferred || f.config.name === this.preferred));
    if (candidates.length === 0) {
      const wanted = this.preferred ? `no network named "${this.preferred}"` : 'no valid network configuration';
      return { ready: false, message: `${wanted} in ${this.dir}${problems.length ? ` (${problems.join('; ')})` : ''}` };
    }
    const chosen = candidates[0]!;
    if (problems.length > 0) {
      // A broken file is skipped, as libcni does; a cluster's network that
      // does not parse must not leave pods on another one without a word.
      this.log.warn({ dir: this.dir, chosen: chosen.file }, `CNI configuration files skipped: ${problems.join('; ')}`);
    }
    const shadowed = this.preferred ? undefined : shadowedBy(chosen, candidates);
    if (shadowed) {
      this.log.warn(
        { file: chosen.file, other: shadowed.file },
        `berth's default network ${path.basename(chosen.file)} comes first, so ${path.basename(shadowed.file)} (network "${shadowed.config!.name}") is not used; remove berth's file or set network.default_network`,
      );
    }
    const unused = this.preferred ? undefined : unusedDefault(chosen, files);
    if (unused) {
      this.log.warn(
        { file: unused.file, used: chosen.file },
        `berth's default network ${path.basename(unused.file)} is not used: ${path.basename(chosen.file)} (network "${chosen.config!.name}") comes first; the default can be removed`,
      );
    }
    const missing: string[] = [];
    for (const p of chosen.config!.plugins) if (!(await this.findPlugin(p.type))) missing.push(p.type);
    if (missing.length > 0) {
      return {
        ready: false,
        message: `network "${chosen.config!.name}" (${path.basename(chosen.file)}) needs plugins not found in ${this.pluginDirs.join(':')}: ${missing.join(', ')}`,
      };
    }
    return { ready: true, message: '', network: chosen.config, file: chosen.file };
  }

  /** The plugin binary's path, searching the plugin directories in order. */
  async findPlugin(type: string): Promise<string | undefined> {
    for (const dir of this.pluginDirs) {
      const candidate = path.join(dir, type);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not in this directory
      }
    }
    return undefined;
  }

  get pluginPath(): string {
    return this.pluginDirs.join(':');
  }
}
