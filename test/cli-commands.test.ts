import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS, COMMAND_SWITCHES, GLOBAL_FLAGS, flagSentences, spelling, synopsis } from '../src/cli-commands.js';
import { main } from '../src/cli.js';
import { renderBashCompletion, renderBerth8, renderZshCompletion } from '../src/config/manpages.js';
import { RELOADABLE } from '../src/config/reload.js';
import { KEYS } from '../src/config/schema.js';
import { cliStreams } from './support/capture.js';

const run = promisify(execFile);
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A line of troff as it reads: macro names, quotes and escapes gone. */
function plain(line: string): string {
  // Quotes group a macro's arguments; in a text line they are text.
  const unquoted = line.startsWith('.') ? line.replace(/"/g, '') : line;
  return unquoted
    .replace(/^\.(B|BI|BR|I|IR)\s+/, '')
    .replace(/\\-/g, '-')
    .replace(/\\&/g, '')
    .replace(/\\e/g, '\\')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The raw lines of one `.SH` section of a page. */
function section(page: string, name: string): string[] {
  const lines = page.split('\n');
  const start = lines.indexOf(`.SH ${name}`);
  expect(start, `section ${name}`).toBeGreaterThan(0);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('.SH '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The `.TP` items of a section: term, as it reads, to body. */
function items(lines: string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '.TP') continue;
    const term = plain(lines[i + 1]!);
    const body: string[] = [];
    for (let j = i + 2; j < lines.length && !/^\.(TP|RS|RE)$/.test(lines[j]!); j++) body.push(plain(lines[j]!));
    found.set(term, body.join(' '));
  }
  return found;
}

/** A section's top-level items, each with the lines under it (nested .RS items included). */
function chunks(lines: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let depth = 0;
  let current: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '.RS') depth++;
    if (lines[i] === '.RE') depth--;
    if (depth === 0 && lines[i] === '.TP') {
      current = [];
      found.set(plain(lines[i + 1]!), current);
    }
    current.push(lines[i]!);
  }
  return found;
}

async function helpOutput(argv: string[]): Promise<string> {
  const io = cliStreams();
  expect(await main(argv, io)).toBe(0);
  expect(io.stderr.text()).toBe('');
  return io.stdout.text();
}

describe('the command table', () => {
  it('has a flag, with its placeholder and the key it sets, for every configuration key with a flag', () => {
    const flagged = KEYS.filter((k) => k.flag);
    expect(flagged.length).toBeGreaterThan(10);
    for (const k of flagged) {
      const flag = GLOBAL_FLAGS.find((f) => f.name === k.flag);
      expect(flag, k.key).toMatchObject({ value: k.placeholder, key: k.key });
      expect(flag!.value).toMatch(/^[A-Z][A-Z:]*$/);
      expect(flag!.default, k.key).toBeDefined();
    }
  });

  it('gives each flag the default berth really runs with, as an operator writes it', () => {
    const byName = new Map(GLOBAL_FLAGS.map((f) => [f.name, f]));
    expect(byName.get('config')?.default).toBe('/etc/berth/berth.conf');
    expect(byName.get('config-dir')?.default).toBe('/etc/berth/berth.conf.d');
    expect(byName.get('listen')?.default).toBe('/run/berth/berth.sock');
    expect(byName.get('log-format')?.default).toBe('auto');
    expect(byName.get('stream-port')?.default).toBe('0');
    expect(byName.get('metrics-address')?.default).toBe('""');
    expect(byName.get('cni-plugin-dir')).toMatchObject({ value: 'DIR', repeatable: true, default: '/opt/cni/bin, /usr/lib/cni' });
    expect(byName.get('log-level')?.choices).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
    expect(spelling(byName.get('cni-plugin-dir')!)).toBe('--cni-plugin-dir DIR');
    expect(flagSentences(byName.get('cni-plugin-dir')!)).toMatch(/\. Repeatable\. Default: \/opt\/cni\/bin, \/usr\/lib\/cni\.$/);
  });

  it('names every command berth has, status, doctor and check included', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(['serve', 'config', 'version', 'status', 'doctor', 'check', 'help']);
    expect(synopsis(COMMANDS.find((c) => c.name === 'status')!)).toBe('berth status [--json] [--listen SOCKET] [flags]');
    expect(synopsis(COMMANDS[0]!)).toBe('berth [serve] [flags]');
  });
});

describe('berth help', () => {
  it('prints every command, command flag and flag of the table, with placeholders and defaults', async () => {
    const text = await helpOutput(['help']);
    const lines = text.split('\n');
    COMMANDS.forEach((c, i) => {
      expect(lines[i]!.slice(7).startsWith(`${synopsis(c)} `), c.name).toBe(true);
      expect(lines[i], c.name).toContain(c.summary);
      for (const alias of c.aliases) expect(lines[i]).toContain(alias);
    });
    expect(lines[0]).toMatch(/^usage: berth \[serve\] \[flags\]/);
    const lineOf = (left: string) => lines.find((l) => l.startsWith(`  ${left}  `));
    for (const c of COMMANDS) for (const f of c.flags) expect(lineOf(`${c.name} ${spelling(f)}`), `${c.name} ${f.name}`).toContain(f.doc);
    for (const f of GLOBAL_FLAGS) expect(lineOf(spelling(f)), f.name).toMatch(new RegExp(`^ {2}${spelling(f)} +${literal(flagSentences(f))}$`));
    for (const f of COMMAND_SWITCHES) expect(lineOf(`-${f.short}, --${f.name}`), f.name).toContain(f.doc);
    expect(text).toContain('--log-level LEVEL');
    expect(text).toContain('Default: /run/berth/berth.sock.');
  });

  it('is the same text for -h, --help and help after a command', async () => {
    const text = await helpOutput(['help']);
    for (const argv of [['-h'], ['--help'], ['status', '--help'], ['check', '-h', '--repair']]) expect(await helpOutput(argv), argv.join(' ')).toBe(text);
  });
});

describe('berth(8)', () => {
  const page = renderBerth8('1.2.3');

  it('has a synopsis line for every command', () => {
    const groups = section(page, 'SYNOPSIS')
      .join('\n')
      .split('\n.br\n')
      .map((g) => g.split('\n').map(plain).join(' '));
    expect(groups).toEqual(COMMANDS.map(synopsis));
  });

  it('describes every command and its own flags', () => {
    const commands = chunks(section(page, 'COMMANDS'));
    expect([...commands.keys()]).toEqual(COMMANDS.map((c) => c.name));
    for (const c of COMMANDS) {
      const described = items(commands.get(c.name)!);
      expect(described.get(c.name), c.name).toContain(plain(c.description));
      for (const f of c.flags) expect(described.get(spelling(f)), `${c.name} ${f.name}`).toContain(f.doc);
    }
    expect(items(commands.get('version')!).get('version')).toContain('-v and --version');
  });

  it('lists every flag with its placeholder, its default and the key it sets', () => {
    const options = items(section(page, 'OPTIONS'));
    for (const f of GLOBAL_FLAGS) {
      const body = options.get(spelling(f));
      expect(body, f.name).toContain(`Default: ${f.default}.`);
      if (f.key) expect(body, f.name).toContain(`Sets ${f.key} in berth.conf.`);
      if (f.repeatable) expect(body, f.name).toContain('Repeatable.');
    }
    expect(options.get('--log-level LEVEL')).toContain('Default: info.');
    for (const f of COMMAND_SWITCHES) expect(options.has(`-${f.short}, --${f.name}`), f.name).toBe(true);
  });

  it('says what the exit statuses, the signals and the files are', () => {
    const exits = items(section(page, 'EXIT STATUS'));
    expect([...exits.keys()]).toEqual(['0', '1', '2']);
    expect(exits.get('2')).toContain('usage or configuration error');
    expect(exits.get('2')).toContain('no state at root');
    const signals = items(section(page, 'SIGNALS'));
    expect(signals.get('SIGTERM, SIGINT')).toContain('containers keep running');
    for (const key of RELOADABLE) expect(signals.get('SIGHUP'), key).toContain(key);
    expect([...items(section(page, 'FILES')).keys()]).toEqual(
      expect.arrayContaining(['/etc/berth/berth.conf', '/etc/berth/berth.conf.d', '/run/berth/berth.sock', '/var/lib/berth']),
    );
    const seeAlso = section(page, 'SEE ALSO').map(plain).join(' ');
    for (const ref of ['berth.conf(5)', 'crictl(1)', 'kubelet']) expect(seeAlso).toContain(ref);
    expect(page.split('\n')[0]).toBe('.TH BERTH 8 "" "berth 1.2.3" "berth"');
  });
});

describe('the README', () => {
  it('has a row for every command in its Commands table', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Commands and signals'), readme.indexOf('## Configuration'));
    for (const c of COMMANDS) expect(table, c.name).toContain(`| \`${synopsis(c).split(' [flags]')[0]}`);
  });
});

describe('the shell completions', () => {
  const complete = async (words: string[]) => {
    const script = `${renderBashCompletion()}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _berth; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return (await run('bash', ['-c', script])).stdout.trim().split('\n');
  };

  it('offers in bash every command, and the flags of the command being typed', async () => {
    await run('bash', ['-n', '-c', renderBashCompletion()]);
    expect(await complete(['berth', ''])).toEqual(COMMANDS.map((c) => c.name));
    expect(await complete(['berth', 'check', '--rep'])).toEqual(['--repair']);
    expect(await complete(['berth', 'version', '--'])).toEqual(['--json', '--help', '--version']);
    expect(await complete(['berth', '--log-format', ''])).toEqual(['json', 'text', 'auto']);
    const serve = await complete(['berth', '--']);
    for (const f of GLOBAL_FLAGS) expect(serve).toContain(`--${f.name}`);
    expect(serve).not.toContain('--repair');
  });

  it('describes every command and flag in zsh', () => {
    const zsh = renderZshCompletion();
    for (const c of COMMANDS) expect(zsh).toContain(`'${c.name}:`);
    for (const f of GLOBAL_FLAGS) expect(zsh, f.name).toMatch(new RegExp(`'\\*?--${f.name}\\[`));
    expect(zsh).toContain(':level:(trace debug info warn error fatal)');
  });
});
