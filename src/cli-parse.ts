import { parseArgs } from 'node:util';
import { COMMANDS, COMMAND_SWITCHES, type CommandDoc, type FlagDoc, GLOBAL_FLAGS, commandNamed, flagsOf } from './cli-commands.js';

export type FlagValues = Record<string, string | string[] | true>;

export type ParsedCommandLine = { ok: true; command: CommandDoc; values: FlagValues } | { ok: false; message: string };

const ALL_FLAGS: readonly FlagDoc[] = [...COMMAND_SWITCHES, ...COMMANDS.flatMap((c) => c.flags), ...GLOBAL_FLAGS];
const BY_NAME = new Map(ALL_FLAGS.map((f) => [f.name, f]));

/**
 * Reads argv against the command table. Node's parser runs lenient, for
 * its tokens only: its own strict errors explain its syntax ("place it
 * after a '--' delimiter") where an operator needs one line naming the
 * flag, and it cannot know which command takes which flag.
 */
export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const f of ALL_FLAGS) options[f.name] = { type: f.value ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) };
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  const values: FlagValues = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const flag = BY_NAME.get(token.name);
    if (!flag) return { ok: false, message: `unknown flag ${token.rawName}` };
    if (flag.value) {
      // A value that looks like a flag is the next flag: the value was forgotten.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
        return { ok: false, message: `${token.rawName} needs a value (${flag.value})` };
      }
      const before = values[flag.name];
      values[flag.name] = flag.repeatable ? [...(Array.isArray(before) ? before : []), token.value] : token.value;
    } else {
      if (token.value !== undefined) return { ok: false, message: `${token.rawName} takes no value` };
      values[flag.name] = true;
    }
  }
  if (values.help || positionals[0] === 'help') return { ok: true, command: commandNamed('help')!, values };
  if (values.version) return { ok: true, command: commandNamed('version')!, values };
  const command = commandNamed(positionals[0] ?? 'serve');
  if (!command) return { ok: false, message: `unknown command "${positionals[0]}"` };
  if (positionals.length > 1) return { ok: false, message: `unexpected argument "${positionals[1]}" after ${command.name}` };
  const accepted = new Set(flagsOf(command).map((f) => f.name));
  for (const name of Object.keys(values)) {
    if (!accepted.has(name)) return { ok: false, message: `--${name} is not a flag of berth ${command.name}` };
  }
  return { ok: true, command, values };
}
