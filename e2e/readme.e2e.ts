import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CRICTL, haveCrictl } from './lib/crictl.js';
import { removeIdlePortmapChains, sh } from './lib/net-host.js';
import { waitFor } from './lib/ports.js';
import { ROOT } from './lib/release.js';

/**
 * The README's "Using it" section, every command as written, from
 * `make run` to `crictl rmp`, with the real crictl. The commands use the
 * real paths (/etc/crictl.yaml, /etc/cni/net.d, /run/berth, /var/lib/berth),
 * so they run in a private mount namespace where /etc, /run and /var/lib
 * are overlays over the host's, thrown away with the namespace, berth's two
 * directories are the test's, and the CNI directory starts empty. The host
 * network is shared: docker.io's busybox comes from the test registry
 * (registries.conf in the overlay), the default network's bridge is
 * removed at the end.
 */
const env = inject('env');
const run = promisify(execFile);
const crictlPresent = await haveCrictl();
if (!crictlPresent) console.warn(`e2e/readme.e2e.ts skipped: no crictl at ${CRICTL} (the shared tools are beside CI's clone, not a user's)`);

/** The shell blocks of "## Using it", one command line each. */
async function usingItLines(): Promise<string[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Using it\n');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((b) => b.split('\n')).filter((l) => l.trim() !== '');
}

/** Lines a person types into or leaves with Ctrl-C: what to type, what must come back. */
const INTERACTIVE: Record<string, { tty: boolean; input: string; expect: RegExp; interrupt: boolean }> = {
  'crictl exec -it $CTR sh': { tty: true, input: 'echo in-exec-$((6*7))\nexit\n', expect: /in-exec-42/, interrupt: false },
  'crictl attach -i $CTR': { tty: false, input: 'echo attached-$((6*7))\n', expect: /attached-42/, interrupt: true },
};
/** What a few lines must print besides succeeding. */
const OUTPUT: [RegExp, RegExp][] = [
  [/^crictl version/, /RuntimeName:\s+berth/],
  [/^crictl pull busybox/, /Image is up to date for sha256:/],
  [/crictl logs \$CTR/, /hello from berth/],
  [/--template/, /134217728/],
  [/port-forward/, /hello through port-forward/],
];
const withoutComment = (line: string) => line.replace(/\s+#[^'"]*$/, '').trim();

describe.skipIf(!crictlPresent)("the README's walk-through, as written", () => {
  let dir: string;
  let holder: ChildProcess;
  let daemon: ChildProcess | undefined;
  let daemonLog = '';
  const state = () => path.join(dir, 'shell-state');
  const shellEnv = () => ({
    PATH: `${path.join(dir, 'tools')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: '/root',
    TERM: 'dumb',
    STATE: state(),
    // nsenter starts in the namespace's root directory: the shell goes back to the checkout.
    CHECKOUT: ROOT,
  });
  /** A command line in the namespace, in the checkout, with the variables earlier lines set. */
  const inNamespace = (line: string, extra: string[] = []) =>
    // SIGINT as a person's shell has it: the test runner's workers ignore
    // it, and crictl (Go) would inherit that and never see the Ctrl-C.
    spawn(
      'nsenter',
      [
        '-t',
        String(holder.pid),
        '-m',
        '--',
        'env',
        '--default-signal=INT',
        ...extra,
        'bash',
        '-c',
        `set -a; . "$STATE"; cd "$CHECKOUT"; ${line}\n__rc=$?; export -p > "$STATE"; exit $__rc`,
      ],
      {
        cwd: ROOT,
        env: shellEnv(),
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      },
    );
  const finished = (child: ChildProcess) =>
    new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.once('close', (code, signal) => resolve({ code, signal, out }));
    });
  // Named explicitly: before the walk-through's first line, crictl has no configuration.
  const crictlAnswers = async () => (await finished(inNamespace('crictl --runtime-endpoint unix:///run/berth/berth.sock version >/dev/null 2>&1'))).code === 0;

  const startDaemon = async (line: string) => {
    daemonLog = '';
    daemon = inNamespace(line);
    daemon.stdout!.on('data', (d: Buffer) => {
      daemonLog += d.toString();
    });
    daemon.stderr!.on('data', (d: Buffer) => {
      daemonLog += d.toString();
    });
    await waitFor(`"${line}" to serve /run/berth/berth.sock`, crictlAnswers, 300_000);
  };
  const stopDaemon = async () => {
    if (!daemon || daemon.exitCode !== null) return;
    const gone = new Promise((resolve) => daemon!.once('close', resolve));
    process.kill(-daemon.pid!, 'SIGTERM');
    await gone;
    daemon = undefined;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-readme-'));
    await mkdir(path.join(dir, 'tools'));
    await symlink(CRICTL, path.join(dir, 'tools', 'crictl'));
    await writeFile(state(), '');
    // docker.io's busybox, as the README pulls it, is the test's busybox.
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${env.openRegistry}/berth-test/busybox:run`,
      `docker://${env.openRegistry}/library/busybox:latest`,
    ]);
    const setup = [
      'set -e',
      'for d in etc run var-lib; do mkdir -p "$T/$d-upper" "$T/$d-work"; done',
      'mkdir -p "$T/run-berth" "$T/var-lib-berth"',
      'mount -t overlay overlay -o lowerdir=/etc,upperdir="$T/etc-upper",workdir="$T/etc-work" /etc',
      'mount -t overlay overlay -o lowerdir=/run,upperdir="$T/run-upper",workdir="$T/run-work" /run',
      'mount -t overlay overlay -o lowerdir=/var/lib,upperdir="$T/var-lib-upper",workdir="$T/var-lib-work" /var/lib',
      // berth's own directories on a plain file system (overlayfs cannot hold the upper layers of its containers)
      'mkdir -p /etc/cni/net.d /run/berth /var/lib/berth',
      'mount -t tmpfs tmpfs /etc/cni/net.d',
      'mount --bind "$T/run-berth" /run/berth',
      'mount --bind "$T/var-lib-berth" /var/lib/berth',
      'rm -f /etc/crictl.yaml',
      `mkdir -p /etc/containers && printf '[[registry]]\\nprefix = "docker.io"\\nlocation = "${env.openRegistry}"\\ninsecure = true\\n' > /etc/containers/registries.conf`,
      'echo ready',
      'exec sleep 100000',
    ].join('\n');
    holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', setup], {
      env: { ...process.env, T: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      holder.once('exit', (code) => reject(new Error(`the namespace's setup failed (${code})`)));
    });
  }, 300_000);

  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      // A step that failed may have left pods: removed while berth still runs.
      await finished(inNamespace('crictl --runtime-endpoint unix:///run/berth/berth.sock rmp -fa'));
    }
    await stopDaemon();
    holder?.kill('SIGKILL');
    await sh('ip', ['link', 'del', 'berth0']).catch(() => '');
    await removeIdlePortmapChains();
    await rm('/tmp/berth-example-logs', { recursive: true, force: true }); // examples/pod.json's log directory
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('runs every command of "Using it"', async () => {
    const lines = await usingItLines();
    for (const known of Object.keys(INTERACTIVE)) expect(lines.map(withoutComment), 'an interactive line the test drives').toContain(known);
    const ran: string[] = [];
    for (const line of lines) {
      const command = withoutComment(line);
      if (command.startsWith('make run')) {
        await stopDaemon();
        await startDaemon(line);
        if (command === 'make run') expect(daemonLog).toContain('berth: installed the default pod network in /etc/cni/net.d/99-berth-bridge.conflist');
        ran.push(line);
        continue;
      }
      const interactive = INTERACTIVE[command];
      if (interactive) {
        // script(1) gives `-it` the terminal a person would have.
        const child = interactive.tty ? inNamespace(`script -qefc ${shellQuote(command)} /dev/null`) : inNamespace(line);
        const result = finished(child);
        let seen = '';
        child.stdout!.on('data', (d: Buffer) => {
          seen += d.toString();
        });
        await new Promise((r) => setTimeout(r, 1000));
        child.stdin!.write(interactive.input);
        await waitFor(`"${command}" to answer`, async () => interactive.expect.test(seen), 30_000);
        if (interactive.interrupt) {
          // Twice: crictl 1.32 only notes the first while it streams.
          process.kill(-child.pid!, 'SIGINT');
          await new Promise((r) => setTimeout(r, 500));
          if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
        } else child.stdin!.end();
        const r = await result;
        expect(r.out).toMatch(interactive.expect);
        if (!interactive.interrupt) expect(r.code, `${line}\n${r.out}`).toBe(0);
        ran.push(line);
        continue;
      }
      const child = inNamespace(line);
      child.stdin!.end();
      const r = await finished(child);
      expect(r.code, `${line}\n${r.out}\n--- daemon:\n${daemonLog.slice(-3000)}`).toBe(0);
      for (const [when, output] of OUTPUT) if (when.test(command)) expect(r.out, line).toMatch(output);
      ran.push(line);
    }
    expect(ran).toEqual(lines);
    // The walk-through ends with everything removed.
    const left = await finished(inNamespace('crictl pods -q; crictl ps -aq'));
    expect(left.out.trim()).toBe('');
  }, 900_000);
});

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
