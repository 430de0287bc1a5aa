import { formatDuration } from './duration.js';
import { getPath } from './load.js';
import { type BerthConfig, KEYS, type KeySpec, RUNTIME_HANDLER_KEYS, SECTIONS, defaultConfig } from './schema.js';

/**
 * berth(8), berth.conf(5) and the shell completions, generated from the
 * configuration schema at package time, so that they never drift from the
 * keys and flags the daemon really has.
 */

/** troff-safe text: backslashes doubled, a leading dot or quote escaped. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/-/g, '\\-');
}

function defaultOf(config: BerthConfig, spec: KeySpec): string {
  const value = getPath(config, spec.key);
  return spec.spec.type === 'duration' ? JSON.stringify(formatDuration(value as number)) : JSON.stringify(value);
}

function header(name: string, section: number, version: string): string[] {
  return [`.TH ${name.toUpperCase()} ${section} "" "berth ${version}" "berth"`];
}

export function renderBerthConf5(version: string): string {
  const config = defaultConfig();
  const out = header('berth.conf', 5, version);
  out.push('.SH NAME', 'berth.conf \\- configuration of the berth container runtime');
  out.push('.SH SYNOPSIS', '/etc/berth/berth.conf, /etc/berth/berth.conf.d/*.conf');
  out.push(
    '.SH DESCRIPTION',
    roff(
      'berth needs no configuration file: every key has an embedded default (berth config --default prints them). ' +
        'It reads /etc/berth/berth.conf (or --config), then the drop-ins in /etc/berth/berth.conf.d (or --config-dir) in lexical order, ' +
        'then command-line flags, each overriding the one before. The files are TOML. An unknown key or a wrong value stops start-up, ' +
        'naming the file and the key. SIGHUP re-reads them (see berth(8)).',
    ),
  );
  for (const [section, doc] of Object.entries(SECTIONS)) {
    out.push(`.SH ${section ? `[${section}]` : 'TOP-LEVEL KEYS'}`, roff(doc));
    for (const spec of KEYS.filter((k) => (k.key.includes('.') ? k.key.split('.')[0] : '') === section)) {
      out.push(
        '.TP',
        `.B ${roff(spec.key.split('.').pop()!)}`,
        roff(`${spec.doc} Default: ${defaultOf(config, spec)}.${spec.flag ? ` Flag: --${spec.flag}.` : ''}`),
      );
    }
  }
  out.push('.SH [runtimes.NAME]', roff('OCI runtimes, chosen per pod by RunPodSandboxRequest.runtime_handler ("" means runtime.default_runtime).'));
  for (const [key, doc] of Object.entries(RUNTIME_HANDLER_KEYS)) out.push('.TP', `.B ${roff(key)}`, roff(doc));
  out.push('.SH SEE ALSO', 'berth(8), crictl(1), containers-registries.conf(5)');
  return `${out.join('\n')}\n`;
}

export function renderBerth8(version: string): string {
  const out = header('berth', 8, version);
  out.push('.SH NAME', 'berth \\- a Kubernetes container runtime (CRI)');
  out.push('.SH SYNOPSIS', '.B berth', '[serve] [flags]', '.br', '.B berth config', '[\\-\\-default] [flags]', '.br', '.B berth version', '[\\-\\-json]');
  out.push(
    '.SH DESCRIPTION',
    roff(
      'berth serves the Kubernetes Container Runtime Interface (runtime.v1) on a unix socket, ' +
        'default /run/berth/berth.sock, for the kubelet and crictl. It pulls images, runs containers with an OCI runtime (runc) ' +
        'supervised by conmon, and networks pods through CNI plugins. Containers keep running while berth is stopped or restarted.',
    ),
  );
  out.push(
    '.SH OPTIONS',
    '.TP',
    '.B \\-\\-config FILE',
    'configuration file (default /etc/berth/berth.conf)',
    '.TP',
    '.B \\-\\-config\\-dir DIR',
    'drop-in directory (default /etc/berth/berth.conf.d)',
    '.TP',
    '.B \\-h, \\-\\-help',
    'print the usage',
    '.TP',
    '.B \\-v, \\-\\-version',
    'print the version',
  );
  for (const spec of KEYS.filter((k) => k.flag)) out.push('.TP', `.B \\-\\-${roff(spec.flag!)}`, roff(`${spec.doc} (${spec.key} in berth.conf)`));
  out.push(
    '.SH SIGNALS',
    '.TP',
    '.B SIGTERM, SIGINT',
    roff('stop accepting calls, finish those in flight (up to shutdown_timeout), exit 0.'),
    '.TP',
    '.B SIGHUP',
    roff(
      're-read the configuration: the log level, shutdown_timeout, the pause image, the CNI check interval and the container defaults apply at once; other changes are logged as needing a restart.',
    ),
  );
  out.push('.SH EXIT STATUS', '0 success; 1 the daemon could not start; 2 a usage or configuration error.');
  out.push('.SH FILES', '/etc/berth/berth.conf, /var/lib/berth (images, layers, records), /run/berth (sockets, volatile state)');
  out.push('.SH SEE ALSO', 'berth.conf(5), crictl(1), kubelet(1)');
  return `${out.join('\n')}\n`;
}

const COMMANDS = ['serve', 'config', 'version', 'status', 'doctor', 'check', 'help'];
const FIXED_FLAGS = ['--config', '--config-dir', '--default', '--json', '--repair', '--help', '--version'];

export function renderBashCompletion(): string {
  const flags = [...FIXED_FLAGS, ...KEYS.filter((k) => k.flag).map((k) => `--${k.flag}`)].join(' ');
  return `# bash completion for berth (generated from its configuration schema)
_berth() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then
    COMPREPLY=($(compgen -W "${COMMANDS.join(' ')}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "${flags}" -- "$cur"))
  fi
}
complete -o default -F _berth berth
`;
}

export function renderZshCompletion(): string {
  const clean = (text: string) => text.replace(/[[\]'":]/g, '').split('. ')[0]!;
  const lines = [
    `'--config[configuration file]:file:_files'`,
    `'--config-dir[drop-in directory]:directory:_files -/'`,
    `'--default[the embedded defaults]'`,
    `'--json[JSON output]'`,
    `'(-h --help)'{-h,--help}'[print the usage]'`,
    `'(-v --version)'{-v,--version}'[print the version]'`,
    ...KEYS.filter((k) => k.flag).map((k) => `'--${k.flag}[${clean(k.doc)}]:value: '`),
  ];
  return `#compdef berth
# zsh completion for berth (generated from its configuration schema)
_arguments \\
  '1:command:(${COMMANDS.join(' ')})' \\
${lines.map((l) => `  ${l}`).join(' \\\n')}
`;
}
