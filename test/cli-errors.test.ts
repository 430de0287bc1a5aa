import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/cli-parse.js';
import { main } from '../src/cli.js';
import { unreachableReason } from '../src/status-command.js';
import { cliStreams } from './support/capture.js';

async function berth(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = cliStreams();
  const code = await main(argv, io);
  return { code, stdout: io.stdout.text(), stderr: io.stderr.text() };
}

const listening = (server: Server, where: string) => new Promise<void>((resolve) => server.listen(where, resolve));
const closed = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('berth on a bad command line', () => {
  it.each([
    [['serve', '--bogus'], 'berth: unknown flag --bogus (see berth help)\n'],
    [['--bogus'], 'berth: unknown flag --bogus (see berth help)\n'],
    [['status', '-x'], 'berth: unknown flag -x (see berth help)\n'],
    [['status', '--listen'], 'berth: --listen needs a value (SOCKET) (see berth help)\n'],
    [['status', '--listen', '--json'], 'berth: --listen needs a value (SOCKET) (see berth help)\n'],
    [['--json=yes', 'status'], 'berth: --json takes no value (see berth help)\n'],
    [['frobnicate'], 'berth: unknown command "frobnicate" (see berth help)\n'],
    [['status', 'now'], 'berth: unexpected argument "now" after status (see berth help)\n'],
    [['version', '--root', '/srv'], 'berth: --root is not a flag of berth version (see berth help)\n'],
    [['serve', '--repair'], 'berth: --repair is not a flag of berth serve (see berth help)\n'],
  ])('%j says so in one line and exits 2', async (argv, message) => {
    expect(await berth(argv)).toEqual({ code: 2, stdout: '', stderr: message });
  });

  it('names the flag and key of a bad value, in one line', async () => {
    const { code, stderr } = await berth(['config', '--config', '/dev/null', '--log-format', 'xml']);
    expect(code).toBe(2);
    expect(stderr).toBe('berth: configuration error: --log-format: log_format: must be one of json, text, auto, got "xml"\n');
  });
});

describe('the command-line parser', () => {
  it('keeps every value of a repeatable flag, the last of any other, and values given with =', () => {
    const parsed = parseCommandLine(['doctor', '--cni-plugin-dir', '/a', '--cni-plugin-dir=/b', '--root', '/x', '--root', '/y', '--listen=-odd']);
    expect(parsed).toMatchObject({ ok: true, command: { name: 'doctor' }, values: { 'cni-plugin-dir': ['/a', '/b'], root: '/y', listen: '-odd' } });
  });

  it('takes --help and --version before the command they follow, and serve when none is named', () => {
    expect(parseCommandLine(['check', '--repair', '-h'])).toMatchObject({ ok: true, command: { name: 'help' } });
    expect(parseCommandLine(['status', '-v'])).toMatchObject({ ok: true, command: { name: 'version' } });
    expect(parseCommandLine(['--root', '/srv'])).toMatchObject({ ok: true, command: { name: 'serve' }, values: { root: '/srv' } });
    expect(parseCommandLine(['--', '--bogus'])).toEqual({ ok: false, message: 'unknown command "--bogus"' });
  });
});

describe('berth status when no daemon answers', () => {
  let dir: string;
  const status = (socket: string) => berth(['status', '--config', '/dev/null', '--config-dir', path.join(dir, 'none.d'), '--listen', socket]);
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-status-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says there is no such socket', async () => {
    const socket = path.join(dir, 'nothing.sock');
    expect(await status(socket)).toEqual({
      code: 1,
      stdout: '',
      stderr: `berth: cannot reach the daemon on ${socket}: no such socket (is berth running? systemctl status berth)\n`,
    });
  });

  it('tells a stale socket, which nothing listens on, from a file that is no socket', async () => {
    // A hard link keeps the socket file after its server closes (and unlinks its own name): what a crashed daemon leaves.
    const server = createServer();
    await listening(server, path.join(dir, 'live.sock'));
    await link(path.join(dir, 'live.sock'), path.join(dir, 'stale.sock'));
    await closed(server);
    const stale = await status(path.join(dir, 'stale.sock'));
    expect(stale).toMatchObject({ code: 1, stdout: '' });
    expect(stale.stderr).toMatch(
      /^berth: cannot reach the daemon on .*stale\.sock: nothing listens on it: a stale socket left by a daemon that stopped \(is berth/,
    );
    await writeFile(path.join(dir, 'plain'), '');
    expect((await status(path.join(dir, 'plain'))).stderr).toBe(`berth: cannot reach the daemon on ${path.join(dir, 'plain')}: it is not a socket\n`);
  });

  it('says in one line, without gRPC internals, that what listens is no CRI runtime', async () => {
    const server = createServer((conn) => conn.destroy());
    await listening(server, path.join(dir, 'other.sock'));
    try {
      const { code, stderr } = await status(path.join(dir, 'other.sock'));
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^berth: cannot reach the daemon on .*other\.sock: it accepts connections but does not answer as a CRI runtime \(UNAVAILABLE: [^\n]*\)\n$/,
      );
      expect(stderr).not.toContain('Resolution note');
    } finally {
      await closed(server);
    }
  });

  it('says permission denied, and what to do, for a socket it may not use', () => {
    expect(unreachableReason('EACCES', true)).toBe('permission denied (the socket is for root and its group: try sudo)');
    expect(unreachableReason('ECONNREFUSED', false)).toBe('it is not a socket');
  });
});

describe('berth check without state', () => {
  let dir: string;
  const check = (root: string, ...more: string[]) =>
    berth([
      'check',
      '--config',
      '/dev/null',
      '--config-dir',
      path.join(dir, 'none.d'),
      '--root',
      root,
      '--runroot',
      path.join(dir, 'run'),
      '--listen',
      path.join(dir, 'b.sock'),
      ...more,
    ]);
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-check-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says there is nothing to check, not that the state is consistent, and exits 2', async () => {
    const root = path.join(dir, 'never');
    for (const more of [[], ['--repair']]) {
      expect(await check(root, ...more)).toEqual({
        code: 2,
        stdout: '',
        stderr: `berth: no state at ${root} (berth has never run with this root?); nothing to check\n`,
      });
    }
  });

  it('calls an empty state consistent', async () => {
    const root = path.join(dir, 'root');
    await mkdir(root);
    const { code, stdout } = await check(root);
    expect(code).toBe(0);
    expect(stdout).toBe(`the state under ${root} and ${path.join(dir, 'run')} is consistent\n`);
  });
});
