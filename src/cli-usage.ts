import { COMMANDS, COMMAND_SWITCHES, GLOBAL_FLAGS, flagSentences, spelling, synopsis } from './cli-commands.js';

/** Column text padded so that what follows lines up, with two spaces at least. */
const column = (text: string, width: number) => `${text.padEnd(width - 2)}  `;

/** The text of `berth help`, made from the command table. */
export function renderUsage(): string {
  const synopses = COMMANDS.map(synopsis);
  const width = Math.max(...synopses.map((s) => s.length)) + 2;
  const lines = COMMANDS.map((c, i) => {
    const aliases = c.aliases.length ? ` (also ${c.aliases.join(', ')})` : '';
    return `${i === 0 ? 'usage: ' : '       '}${column(synopses[i]!, width)}${c.summary}${aliases}`;
  });
  const own = COMMANDS.flatMap((c) => c.flags.map((f) => ({ left: `${c.name} ${spelling(f)}`, doc: f.doc })));
  const ownWidth = Math.max(...own.map((o) => o.left.length)) + 2;
  lines.push('', 'command flags:', ...own.map((o) => `  ${column(o.left, ownWidth)}${o.doc}`));
  const configured = COMMANDS.filter((c) => c.configured).map((c) => c.name);
  const switches = COMMAND_SWITCHES.map((f) => ({ left: `-${f.short}, --${f.name}`, doc: f.doc }));
  const globals = GLOBAL_FLAGS.map((f) => ({ left: spelling(f), doc: flagSentences(f) }));
  const width2 = Math.max(...[...globals, ...switches].map((g) => g.left.length)) + 2;
  lines.push('', `flags (${configured.join(', ')}):`, ...globals.map((g) => `  ${column(g.left, width2)}${g.doc}`));
  lines.push('', 'any command:', ...switches.map((g) => `  ${column(g.left, width2)}${g.doc}`));
  return `${lines.join('\n')}\n`;
}
