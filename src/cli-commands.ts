/**
 * The one description of berth's command line: its commands, their own
 * flags, and the flags every command that reads the configuration takes.
 * The parser (cli-parse.ts), --help (cli-usage.ts), berth(8) and the shell
 * completions (config/manpages.ts) are all made from it, so a command or a
 * flag cannot exist in one and be missing from another.
 */

import { formatDuration } from './config/duration.js';
import { DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE, getPath } from './config/load.js';
import { type BerthConfig, KEYS, type KeySpec, defaultConfig } from './config/schema.js';

export interface FlagDoc {
  /** Long name, without the dashes. */
  name: string;
  /** One-letter spelling, without the dash. */
  short?: string;
  /** Placeholder of the value (DIR, SOCKET); absent for a switch. */
  value?: string;
  doc: string;
  /** The default, as an operator would write it. */
  default?: string;
  /** Given more than once, each value is kept (a list key). */
  repeatable?: boolean;
  /** Values a shell may complete (an enum key's). */
  choices?: readonly string[];
  /** The berth.conf key it overrides. */
  key?: string;
}

export interface CommandDoc {
  name: string;
  /** Other spellings of the command itself. */
  aliases: string[];
  /** Its own flags. */
  flags: FlagDoc[];
  /** Whether it reads the configuration, and so takes GLOBAL_FLAGS. */
  configured: boolean;
  /** Global flags worth naming in its synopsis. */
  named: string[];
  /** One line, for --help. */
  summary: string;
  /** A paragraph, for berth(8). */
  description: string;
}

const json = (what: string): FlagDoc => ({ name: 'json', doc: `Print ${what} as JSON.` });

export const COMMANDS: readonly CommandDoc[] = [
  {
    name: 'serve',
    aliases: [],
    flags: [],
    configured: true,
    named: [],
    summary: 'run the CRI daemon (the default command)',
    description:
      'Serves the Kubernetes Container Runtime Interface (runtime.v1, and v1alpha2 beside it) on the listen socket for the kubelet and crictl ' +
      'until SIGTERM or SIGINT. It must run as root. Before it listens it checks that conmon and every configured runtime can be run and ' +
      'refuses a socket another process answers on; such a failure is one line on stderr and exit status 1. ' +
      'Containers keep running while berth is stopped or restarted.',
  },
  {
    name: 'config',
    aliases: [],
    flags: [{ name: 'default', doc: 'Print the embedded defaults instead, ignoring files and flags.' }],
    configured: true,
    named: [],
    summary: 'print the effective configuration as commented TOML',
    description:
      'Prints the configuration berth would run with (the embedded defaults, then berth.conf, the drop-ins and the flags) ' +
      'as commented TOML that berth reads back; with --default, the embedded defaults alone, as shipped in /etc/berth/berth.conf.',
  },
  {
    name: 'version',
    aliases: ['-v', '--version'],
    flags: [json('the version')],
    configured: false,
    named: [],
    summary: 'print version, git commit and CRI API version',
    description: "Prints berth's version, the git commit it was built from, the CRI API version it serves and the Node.js version it runs on.",
  },
  {
    name: 'status',
    aliases: [],
    flags: [json('the answer')],
    configured: true,
    named: ['listen'],
    summary: 'ask the running daemon for its state',
    description:
      'Asks the daemon on the listen socket, as crio status does, for its version, conditions, runtime handlers and effective configuration. ' +
      'When it cannot be reached it says why in one line (no such socket, a stale socket nothing listens on, permission denied) and exits 1.',
  },
  {
    name: 'doctor',
    aliases: [],
    flags: [],
    configured: true,
    named: [],
    summary: "check the host's prerequisites, one line each",
    description:
      "Checks the host's prerequisites, one line each: root, the kernel, overlayfs, the cgroup layout and controllers, " +
      'the runtimes and conmon with their versions, the CNI plugins and networks, iptables, free space, registries.conf and the signature policy. ' +
      'Exit status 1 when a required one fails; warnings do not count.',
  },
  {
    name: 'check',
    aliases: [],
    flags: [{ name: 'repair', doc: 'Remove what is broken or orphaned (never anything mounted); refused while the daemon serves.' }],
    configured: true,
    named: [],
    summary: 'check the state on disk',
    description:
      'Checks the state under root and runroot: blobs against their digests, image, pod and container records against what they reference, ' +
      'and what nothing references. Exit status 0 when it is consistent (or --repair removed every problem), 1 when problems are found ' +
      '(or some are kept) or the state cannot be read, 2 when root does not exist (nothing to check) or --repair is asked while the daemon serves.',
  },
  {
    name: 'help',
    aliases: ['-h', '--help'],
    flags: [],
    configured: false,
    named: [],
    summary: 'print this text',
    description: 'Prints the usage: every command and flag, with the defaults.',
  },
];

/** A key's default as an operator writes it on the command line. */
function defaultOf(config: BerthConfig, spec: KeySpec): string {
  const value = getPath(config, spec.key);
  if (spec.spec.type === 'duration') return formatDuration(value as number);
  if (Array.isArray(value)) return value.length ? value.join(', ') : 'none';
  return value === '' ? '""' : String(value);
}

function keyFlags(): FlagDoc[] {
  const config = defaultConfig();
  const flags: FlagDoc[] = [];
  for (const spec of KEYS) {
    if (!spec.flag) continue;
    flags.push({
      name: spec.flag,
      value: spec.placeholder,
      doc: spec.doc,
      default: defaultOf(config, spec),
      repeatable: spec.spec.type === 'string-list',
      key: spec.key,
      ...(spec.spec.type === 'enum' ? { choices: spec.spec.values } : {}),
    });
  }
  return flags;
}

/** The flags of every command that reads the configuration: where it is, then one per flagged key. */
export const GLOBAL_FLAGS: readonly FlagDoc[] = [
  { name: 'config', value: 'FILE', doc: 'Configuration file; one named by this flag must exist.', default: DEFAULT_CONFIG_FILE },
  {
    name: 'config-dir',
    value: 'DIR',
    doc: 'Drop-in directory, its *.conf files read in lexical order after the configuration file.',
    default: DEFAULT_CONFIG_DIR,
  },
  ...keyFlags(),
];

/** `--help` and `--version` mean their command whatever else is given. */
export const COMMAND_SWITCHES: readonly FlagDoc[] = [
  { name: 'help', short: 'h', doc: 'Print the usage (berth help).' },
  { name: 'version', short: 'v', doc: 'Print the version (berth version).' },
];

export function commandNamed(name: string): CommandDoc | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Every flag `command` accepts besides the switches. */
export function flagsOf(command: CommandDoc): FlagDoc[] {
  return [...command.flags, ...(command.configured ? GLOBAL_FLAGS : [])];
}

/** `--name VALUE` or `--name`. */
export function spelling(flag: FlagDoc): string {
  return flag.value ? `--${flag.name} ${flag.value}` : `--${flag.name}`;
}

/** `berth status [--json] [--listen SOCKET] [flags]` */
export function synopsis(command: CommandDoc): string {
  const named = command.named.map((n) => GLOBAL_FLAGS.find((f) => f.name === n)!);
  return [
    'berth',
    command.name === 'serve' ? '[serve]' : command.name,
    ...[...command.flags, ...named].map((f) => `[${spelling(f)}]`),
    ...(command.configured ? ['[flags]'] : []),
  ].join(' ');
}

/** `Default: /run/berth/berth.sock.`, `Repeatable. Default: /opt/cni/bin, /usr/lib/cni.` */
export function defaultNote(flag: FlagDoc): string {
  return [...(flag.repeatable ? ['Repeatable.'] : []), ...(flag.default !== undefined ? [`Default: ${flag.default}.`] : [])].join(' ');
}

/** A flag's documentation as sentences, its default after it. */
export function flagSentences(flag: FlagDoc): string {
  return [flag.doc.replace(/([^.])$/, '$1.'), defaultNote(flag)].filter(Boolean).join(' ');
}
