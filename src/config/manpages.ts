import { COMMANDS, COMMAND_SWITCHES, type CommandDoc, type FlagDoc, GLOBAL_FLAGS, flagSentences, flagsOf, synopsis } from '../cli-commands.js';
import { formatDuration } from './duration.js';
import { getPath } from './load.js';
import { RELOADABLE } from './reload.js';
import { type BerthConfig, KEYS, type KeySpec, RUNTIME_HANDLER_KEYS, SECTIONS, defaultConfig } from './schema.js';

/**
 * berth(8), berth.conf(5) and the shell completions, generated at package
 * time from the configuration schema and the command table (cli-commands.ts),
 * so that they never drift from the commands, keys and flags berth has.
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

/** `.B \-\-root` followed by its placeholder in italics, as man pages write a flag and its value. */
function flagItem(flag: FlagDoc): string {
  const names = `${flag.short ? `\\-${flag.short}, ` : ''}\\-\\-${roff(flag.name)}`;
  return flag.value ? `.BI "${names} " ${roff(flag.value)}` : `.B ${names}`;
}

function flagText(flag: FlagDoc): string {
  return roff(`${flagSentences(flag)}${flag.key ? ` Sets ${flag.key} in berth.conf.` : ''}`);
}

export function renderBerth8(version: string): string {
  const out = header('berth', 8, version);
  out.push('.SH NAME', 'berth \\- a Kubernetes container runtime (CRI)');
  out.push('.SH SYNOPSIS');
  COMMANDS.forEach((c, i) => {
    // `berth [serve] [flags]`: an optional command name is not set in bold.
    const words = synopsis(c).split(' ').slice(1);
    const bold = words[0]!.startsWith('[') ? 'berth' : `berth ${words.shift()}`;
    out.push(...(i > 0 ? ['.br'] : []), `.B ${roff(bold)}`, ...(words.length ? [roff(words.join(' '))] : []));
  });
  out.push(
    '.SH DESCRIPTION',
    roff(
      'berth serves the Kubernetes Container Runtime Interface (runtime.v1) on a unix socket, ' +
        'default /run/berth/berth.sock, for the kubelet and crictl. It pulls images, runs containers with an OCI runtime (runc) ' +
        'supervised by conmon, and networks pods through CNI plugins. Containers keep running while berth is stopped or restarted. ' +
        'Its configuration is described in berth.conf(5); every flag below overrides the key it names.',
    ),
  );
  out.push('.SH COMMANDS');
  for (const c of COMMANDS) {
    const aliases = c.aliases.length ? ` Also spelt ${c.aliases.join(' and ')}.` : '';
    out.push('.TP', `.B ${roff(c.name)}`, roff(`${c.description}${aliases}`));
    if (c.flags.length === 0) continue;
    out.push('.RS');
    for (const f of c.flags) out.push('.TP', flagItem(f), flagText(f));
    out.push('.RE');
  }
  const configured = COMMANDS.filter((c) => c.configured).map((c) => c.name);
  out.push('.SH OPTIONS', roff(`Taken by ${configured.join(', ')}.`));
  for (const f of GLOBAL_FLAGS) out.push('.TP', flagItem(f), flagText(f));
  for (const f of COMMAND_SWITCHES) out.push('.TP', flagItem(f), roff(`${f.doc} Taken by every command, whatever else is given.`));
  out.push(
    '.SH EXIT STATUS',
    '.TP',
    '.B 0',
    'success.',
    '.TP',
    '.B 1',
    roff(
      'a runtime failure: the daemon could not start (it must run as root; another process serves the socket; conmon or a runtime cannot be run) ' +
        'or stopped after a fatal error; status cannot reach the daemon; doctor found a required check failing; check found problems or cannot read the state.',
    ),
    '.TP',
    '.B 2',
    roff(
      'a usage or configuration error (an unknown flag or command, a flag without its value, a bad key or value); check finds no state at root, or is asked to --repair while the daemon serves.',
    ),
  );
  const reloadable = [...RELOADABLE].join(', ');
  out.push(
    '.SH SIGNALS',
    '.TP',
    '.B SIGTERM, SIGINT',
    roff('stop accepting calls, let calls in flight finish (up to shutdown_timeout, after which they are cancelled), and exit 0; containers keep running.'),
    '.TP',
    '.B SIGHUP',
    roff(
      `(what systemctl reload sends) re-read the configuration files and flags. These keys apply at once: ${reloadable}; ` +
        'so do a new [runtimes.NAME] handler and a new runtime_path (a path that cannot be run is refused and the old entry stays). ' +
        'Any other change is logged as needing a restart; an invalid configuration is logged and changes nothing.',
    ),
  );
  out.push(
    '.SH ENVIRONMENT',
    '.TP',
    '.B NOTIFY_SOCKET',
    roff('set by systemd (Type=notify): berth reports READY=1 once it answers calls, RELOADING=1 around a reload and STOPPING=1 when it stops.'),
    '.TP',
    '.B NO_COLOR',
    roff('when set, the text log on a terminal is not coloured.'),
  );
  out.push(
    '.SH FILES',
    '.TP',
    '.I /etc/berth/berth.conf',
    'the configuration file (see berth.conf(5)).',
    '.TP',
    '.I /etc/berth/berth.conf.d',
    roff('drop-in configuration files, *.conf, read in lexical order after berth.conf.'),
    '.TP',
    '.I /run/berth/berth.sock',
    roff('the CRI socket (listen), 0660.'),
    '.TP',
    '.I /var/lib/berth',
    roff('persistent state (root): images, layers, pod and container records.'),
    '.TP',
    '.I /run/berth',
    roff('volatile state (runroot): runtime state, pod run directories.'),
  );
  out.push('.SH SEE ALSO', 'berth.conf(5), crictl(1), kubelet(1)');
  return `${out.join('\n')}\n`;
}

/** Placeholders whose values a shell completes as file names or directory names. */
const FILE_VALUES = new Set(['FILE', 'SOCKET']);

/** The flags each command takes, as its completion offers them. */
function completionFlags(command: CommandDoc): string[] {
  return [...flagsOf(command), ...COMMAND_SWITCHES].map((f) => `--${f.name}`);
}

export function renderBashCompletion(): string {
  const all = [...new Map([...COMMANDS.flatMap(flagsOf), ...COMMAND_SWITCHES].map((f) => [f.name, f])).values()];
  // One case arm per kind of value: file names, directory names, an enum's values, nothing to offer.
  const arm = (test: (f: FlagDoc) => boolean, reply: string) => {
    const names = all.filter((f) => f.value && test(f)).map((f) => `--${f.name}`);
    return names.length ? [`    ${names.join('|')}) COMPREPLY=(${reply}); return ;;`] : [];
  };
  const arms = [
    ...arm((f) => FILE_VALUES.has(f.value!), '$(compgen -f -- "$cur")'),
    ...arm((f) => f.value === 'DIR', '$(compgen -d -- "$cur")'),
    ...all.filter((f) => f.choices).flatMap((f) => arm((g) => g === f, `$(compgen -W "${f.choices!.join(' ')}" -- "$cur")`)),
    ...arm((f) => !FILE_VALUES.has(f.value!) && f.value !== 'DIR' && !f.choices, ''),
  ];
  const perCommand = COMMANDS.map((c) => `    ${c.name}) flags="${completionFlags(c).join(' ')}" ;;`);
  return `# bash completion for berth (generated from its command table)
_berth() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} command=serve flags word
  case $prev in
${arms.join('\n')}
  esac
  if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then
    COMPREPLY=($(compgen -W "${COMMANDS.map((c) => c.name).join(' ')}" -- "$cur"))
    return
  fi
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case $word in
      ${COMMANDS.map((c) => c.name).join('|')}) command=$word; break ;;
    esac
  done
  case $command in
${perCommand.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -o default -F _berth berth
`;
}

export function renderZshCompletion(): string {
  const clean = (text: string) => text.replace(/[[\]'":\\]/g, '').split('. ')[0]!;
  const spec = (f: FlagDoc) => {
    const names = f.short ? `'(-${f.short} --${f.name})'{-${f.short},--${f.name}}'` : `'${f.repeatable ? '*' : ''}--${f.name}`;
    if (!f.value) return `${names}[${clean(f.doc)}]'`;
    const action = f.choices ? `(${f.choices.filter(Boolean).join(' ')})` : f.value === 'DIR' ? '_files -/' : FILE_VALUES.has(f.value) ? '_files' : ' ';
    return `${names}[${clean(f.doc)}]:${f.value.replace(':', '_').toLowerCase()}:${action}'`;
  };
  const cases = COMMANDS.map((c) => {
    const specs = [...flagsOf(c), ...COMMAND_SWITCHES].map(spec);
    return `  ${c.name})\n    _arguments \\\n${specs.map((l) => `      ${l}`).join(' \\\n')}\n    ;;`;
  });
  return `#compdef berth
# zsh completion for berth (generated from its command table)
local -a commands
commands=(
${COMMANDS.map((c) => `  '${c.name}:${clean(c.summary)}'`).join('\n')}
)
local command=serve
if (( CURRENT == 2 )) && [[ $words[2] != -* ]]; then
  _describe command commands
  return
fi
if [[ $words[2] != -* ]]; then
  command=$words[2]
  shift words
  (( CURRENT-- ))
fi
case $command in
${cases.join('\n')}
esac
`;
}
