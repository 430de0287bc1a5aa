import type { Logger } from '../log.js';
import { setLogLevel } from '../log.js';
import { getPath } from './load.js';
import { type BerthConfig, KEYS } from './schema.js';

/**
 * What a reload (SIGHUP, `systemctl reload berth`) can change while berth
 * runs: keys whose users read the configuration when they need it. The
 * rest are taken once at start-up and need a restart; a reload says which
 * of them changed. registries.conf and the CNI directory need no reload at
 * all: berth re-reads them whenever they change.
 */
export const RELOADABLE = new Set([
  'log_level',
  'shutdown_timeout',
  'runtime.shm_size',
  'runtime.pids_limit',
  'runtime.default_ulimits',
  'runtime.default_capabilities',
  'runtime.log_size_max',
  'runtime.container_create_timeout',
  'image.pause_image',
  'network.check_interval',
]);

export interface ReloadOutcome {
  applied: string[];
  needRestart: string[];
}

/** Applies `next` to the running configuration (in place) where it can; returns what changed. */
export function applyReload(running: BerthConfig, next: BerthConfig, log: Logger): ReloadOutcome {
  const applied: string[] = [];
  const needRestart: string[] = [];
  for (const { key } of KEYS) {
    if (key === 'version') continue;
    const before = getPath(running, key);
    const after = getPath(next, key);
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    if (!RELOADABLE.has(key)) {
      needRestart.push(key);
      continue;
    }
    const [section, name] = key.includes('.') ? key.split('.') as [keyof BerthConfig, string] : [undefined, key];
    if (section) (running[section] as unknown as Record<string, unknown>)[name] = after;
    else (running as unknown as Record<string, unknown>)[key] = after;
    if (key === 'log_level') setLogLevel(log, next.log_level);
    applied.push(key);
  }
  if (JSON.stringify(running.runtimes) !== JSON.stringify(next.runtimes)) needRestart.push('runtimes');
  return { applied, needRestart };
}
