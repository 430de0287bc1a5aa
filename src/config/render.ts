import { formatDuration } from './duration.js';
import { getPath } from './load.js';
import { type BerthConfig, KEYS, RUNTIME_HANDLER_KEYS, SECTIONS } from './schema.js';

/** Renders a configuration as commented TOML that berth itself accepts. */
export function renderConfig(config: BerthConfig): string {
  const lines: string[] = [];
  for (const [section, doc] of Object.entries(SECTIONS)) {
    const keys = KEYS.filter((k) => sectionOf(k.key) === section);
    if (lines.length > 0) lines.push('');
    lines.push(...doc.split('\n').map((l) => `# ${l}`));
    if (section) lines.push(`[${section}]`);
    for (const spec of keys) {
      lines.push('');
      lines.push(`# ${spec.doc}${spec.flag ? ` (flag: --${spec.flag})` : ''}`);
      const value = getPath(config, spec.key);
      const shown = spec.spec.type === 'duration' ? JSON.stringify(formatDuration(value as number)) : JSON.stringify(value);
      lines.push(`${spec.key.split('.').pop()} = ${shown}`);
    }
  }
  lines.push('', '# OCI runtimes, chosen per pod by RunPodSandboxRequest.runtime_handler.');
  for (const [name, handler] of Object.entries(config.runtimes)) {
    lines.push(`[runtimes.${name}]`);
    for (const [key, doc] of Object.entries(RUNTIME_HANDLER_KEYS)) {
      lines.push(`# ${doc}`, `${key} = ${JSON.stringify(handler[key as keyof typeof handler])}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function sectionOf(key: string): string {
  const i = key.lastIndexOf('.');
  return i < 0 ? '' : key.slice(0, i);
}
