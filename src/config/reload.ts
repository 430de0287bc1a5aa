/**
 * What a reload (SIGHUP, `systemctl reload berth`) can change while berth
 * runs: keys whose users read the configuration when they need it. The
 * rest are taken once at start-up and need a restart; a reload says which
 * of them changed. registries.conf and the files in the CNI directory need
 * no reload at all: berth re-reads them whenever they change.
 */

import { type Logger, setLogLevel } from '../log.js';
import { getPath } from './load.js';
import { type BerthConfig, KEYS } from './schema.js';

export const RELOADABLE = new Set([
  'log_level',
  'shutdown_timeout',
  'runtime.shm_size',
  'runtime.pids_limit',
  'runtime.default_ulimits',
  'runtime.default_capabilities',
  'runtime.log_size_max',
  'runtime.container_create_timeout',
  'runtime.hooks_dirs',
  'runtime.cdi_spec_dirs',
  'image.pause_image',
  'image.global_auth_file',
  'image.signature_policy',
  'image.registries_d',
  'network.check_interval',
  // Pods keep the network configuration they were set up with (their
  // teardown uses it), so a new directory or network applies to new pods.
  'network.cni_config_dir',
  'network.cni_plugin_dirs',
  'network.default_network',
  'network.plugin_timeout',
  'tracing.endpoint',
  'tracing.sampling_rate_per_million',
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
    const [section, name] = key.includes('.') ? (key.split('.') as [keyof BerthConfig, string]) : [undefined, key];
    if (section) (running[section] as unknown as Record<string, unknown>)[name] = after;
    else (running as unknown as Record<string, unknown>)[key] = after;
    if (key === 'log_level') setLogLevel(log, next.log_level);
    applied.push(key);
  }
  reloadRuntimes(running, next, applied, needRestart);
  return { applied, needRestart };
}

/**
 * Runtime handlers: a new handler, or a new binary for one, applies to
 * containers created from now on (runc keeps no state in its binary). A
 * handler's root or type, or its removal, needs a restart: its running
 * containers are known to the runtime by that root.
 */
function reloadRuntimes(running: BerthConfig, next: BerthConfig, applied: string[], needRestart: string[]): void {
  for (const [name, handler] of Object.entries(next.runtimes)) {
    const key = `runtimes.${name}`;
    const current = running.runtimes[name];
    if (current && JSON.stringify(current) === JSON.stringify(handler)) continue;
    if (current && (current.runtime_root !== handler.runtime_root || current.runtime_type !== handler.runtime_type)) {
      needRestart.push(key);
      continue;
    }
    running.runtimes[name] = { ...handler };
    applied.push(key);
  }
  for (const name of Object.keys(running.runtimes)) if (!next.runtimes[name]) needRestart.push(`runtimes.${name}`);
}

/** The runtime handlers a reload added or gave a new binary. */
export function reloadedRuntimes(outcome: ReloadOutcome): string[] {
  return outcome.applied.filter((k) => k.startsWith('runtimes.')).map((k) => k.slice('runtimes.'.length));
}
