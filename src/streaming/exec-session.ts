import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { ContainerRecord, ContainerService } from '../container/container-service.js';
import { ExecProcess } from '../container/exec-process.js';
import type { Logger } from '../log.js';
import type { Channels, TerminalSize } from './channels.js';

/**
 * An interactive exec. Without a terminal, `runc exec` runs in the
 * foreground with pipes that berth copies to the client's streams. With
 * one, berth-stream runs a detached `runc exec`, receives its terminal
 * (--console-socket), pumps it, applies resizes and reports the exit. The session ends when the process
 * exits, not when the client's stdin closes; a client that disconnects
 * gets its process killed.
 */
export async function runExec(opts: {
  containers: ContainerService;
  record: ContainerRecord;
  cmd: string[];
  tty: boolean;
  channels: Channels;
  helper: string;
  log: Logger;
}): Promise<void> {
  const { record, channels } = opts;
  const runtime = opts.containers.runtimeFor(record.meta.runtimeHandler);
  const tag = randomBytes(6).toString('hex');
  const processFile = path.join(record.meta.bundle, `exec-${tag}.json`);
  const pidFile = path.join(record.meta.bundle, `exec-${tag}.pid`);
  // Unix socket paths are limited to 108 bytes: keep this one short.
  const consoleSocket = path.join(opts.containers.socketDir, `tty-${tag}.sock`);
  const spec = await opts.containers.processOf(record);
  // The client sends its terminal size first thing; the runtime sets it
  // before the process starts, so even the first command sees it.
  const size = opts.tty ? await firstSize(channels, 1000) : undefined;
  await writeFile(
    processFile,
    JSON.stringify({
      ...spec,
      args: opts.cmd,
      terminal: opts.tty,
      ...(size ? { consoleSize: { height: size.height, width: size.width } } : {}),
    }),
    { mode: 0o600 },
  ); // holds the container's environment
  const args = [...runtime.globalArgs(), 'exec', '--process', processFile, '--pid-file', pidFile];
  const children: ChildProcess[] = [];
  try {
    let main: ChildProcess;
    let io: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null; stdin: Writable | null };
    const errText: Buffer[] = [];
    if (opts.tty) {
      // berth-stream runs `runc exec --detach --tty`, takes the terminal and
      // waits for the process, whose exit status becomes its own.
      main = spawn(
        opts.helper,
        ['console', consoleSocket, pidFile, runtime.handler.path, ...args, '--detach', '--tty', '--console-socket', consoleSocket, record.meta.id],
        { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] },
      );
      main.stderr?.on('data', (d: Buffer) => errText.push(d));
      io = { stdout: main.stdout, stderr: null, stdin: main.stdin };
      const ctl = main.stdio[3] as Writable;
      ctl.on('error', () => undefined);
      channels.onResize((s) => ctl.write(`${s.height} ${s.width}\n`));
    } else {
      main = spawn(runtime.handler.path, [...args, record.meta.id], { stdio: ['pipe', 'pipe', 'pipe'] });
      io = { stdout: main.stdout, stderr: main.stderr, stdin: main.stdin };
    }
    children.push(main);
    const execProcess = new ExecProcess(pidFile);
    main.once('exit', () => execProcess.done());
    wire(channels, io);
    channels.onClientGone(() => void killExec(execProcess, children));
    const [code] = await Promise.all([exitOf(main), drained(io.stdout), drained(io.stderr)]);
    if (opts.tty && code === 255 && errText.length > 0) {
      await channels.finish({ kind: 'error', message: Buffer.concat(errText).toString().trim() });
    } else {
      await channels.finish(code === 0 ? { kind: 'success' } : { kind: 'exit', code });
    }
  } catch (err) {
    await channels.finish({ kind: 'error', message: (err as Error).message });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all([rm(processFile, { force: true }), rm(pidFile, { force: true }), rm(consoleSocket, { force: true })]);
  }
}

function wire(channels: Channels, io: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null; stdin: Writable | null }): void {
  io.stdin?.on('error', () => undefined);
  if (channels.stdin && io.stdin) channels.stdin.pipe(io.stdin);
  else io.stdin?.end();
  // Output the client did not ask for is read and dropped.
  if (io.stdout) {
    if (channels.stdout) io.stdout.pipe(channels.stdout, { end: false });
    else io.stdout.resume();
  }
  if (io.stderr) {
    if (channels.stderr) io.stderr.pipe(channels.stderr, { end: false });
    else io.stderr.resume();
  }
}

function firstSize(channels: Channels, timeoutMs: number): Promise<TerminalSize | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    channels.onResize((s) => {
      clearTimeout(timer);
      resolve(s);
    });
  });
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code, signal) => resolve(code ?? (signal ? 137 : 1)));
  });
}

function drained(stream: NodeJS.ReadableStream | null): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}

/** The client went away: kill the exec'd process (runc would leave it running), then the helpers. */
async function killExec(execProcess: ExecProcess, children: ChildProcess[]): Promise<void> {
  await execProcess.kill('SIGKILL');
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
