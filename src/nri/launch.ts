/**
 * NRI plugins installed on the node: executables named `NN-name` in the
 * plugin directory, started by berth in index order before it listens for
 * others, each with one end of a socket pair as its fd 3 and nothing else
 * in its environment but NRI_PLUGIN_NAME, NRI_PLUGIN_IDX and
 * NRI_PLUGIN_SOCKET=3 (as containerd/nri starts them). Its configuration
 * is the text of `NN-name.conf` or `name.conf` in the configuration
 * directory. A plugin that fails to start, or is disconnected later, is
 * killed; berth kills them all when it stops.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { NriAdaptation } from './adaptation.js';

/** A plugin's configuration file larger than this is refused (it is sent in one message). */
const MAX_CONFIG_BYTES = 1 << 20;
/** Lines of a plugin's output kept in berth's log per plugin, so a chatty one cannot flood it. */
const MAX_LOGGED_LINES = 1000;

export interface InstalledPlugin {
  index: string;
  name: string;
  file: string;
}

/** The plugins in `dir`, in index order; other files are named in a warning and left alone. */
export async function installedPlugins(dir: string, log: Logger): Promise<InstalledPlugin[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const found: InstalledPlugin[] = [];
  for (const entry of names.sort()) {
    const file = path.join(dir, entry);
    const st = await stat(file).catch(() => undefined);
    if (!st || st.isDirectory() || (st.mode & 0o111) === 0) continue;
    const m = /^([0-9]{2})-([A-Za-z0-9._-]{1,64})$/.exec(entry);
    if (!m) {
      log.warn({ file }, 'NRI: an executable in the plugin directory is not named NN-name; not started');
      continue;
    }
    found.push({ index: m[1]!, name: m[2]!, file });
  }
  return found;
}

/** The plugin's configuration text, "" where it has none. */
export async function pluginConfig(confDir: string, plugin: InstalledPlugin): Promise<string> {
  for (const candidate of [`${plugin.index}-${plugin.name}.conf`, `${plugin.name}.conf`]) {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path.join(confDir, candidate), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    try {
      const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > MAX_CONFIG_BYTES) throw new Error(`${candidate} is larger than ${MAX_CONFIG_BYTES} bytes`);
      return buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  }
  return '';
}

/** Starts the installed plugins one at a time; returns a stop that kills them all. */
export async function launchPlugins(adaptation: Pick<NriAdaptation, 'connect'>, pluginDir: string, confDir: string, log: Logger): Promise<() => void> {
  const children = new Set<ChildProcess>();
  for (const plugin of await installedPlugins(pluginDir, log)) {
    let config: string;
    try {
      config = await pluginConfig(confDir, plugin);
    } catch (err) {
      log.warn({ plugin: plugin.name, err: (err as Error).message }, 'NRI: the plugin configuration cannot be read; plugin not started');
      continue;
    }
    const child = spawn(plugin.file, [], {
      // fd 3 is a socket pair end (libuv makes one for a 'pipe'), the plugin's connection to berth.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { NRI_PLUGIN_NAME: plugin.name, NRI_PLUGIN_IDX: plugin.index, NRI_PLUGIN_SOCKET: '3' },
      detached: false,
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    child.once('error', (err) => log.warn({ plugin: plugin.name, err: err.message }, 'NRI: the plugin cannot be run'));
    logOutput(child, plugin.name, log);
    const connected = await adaptation.connect(child.stdio[3] as Socket, { name: plugin.name, index: plugin.index, config });
    if (!connected) {
      child.kill('SIGKILL');
      continue;
    }
    connected.onClose(() => child.kill('SIGKILL'));
  }
  return () => {
    for (const child of children) child.kill('SIGKILL');
  };
}

/** A plugin's stdout and stderr, line by line at debug level, bounded. */
function logOutput(child: ChildProcess, plugin: string, log: Logger): void {
  let lines = 0;
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (d: Buffer) => {
      const text = (partial + d.toString('utf8')).split('\n');
      partial = (text.pop() ?? '').slice(-4096);
      for (const line of text) if (lines++ < MAX_LOGGED_LINES) log.debug({ plugin, line: line.slice(0, 4096) }, 'NRI plugin output');
    });
  }
}
