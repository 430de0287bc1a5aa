import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/schema.js';
import { StartError } from '../src/errors.js';
import { checkExecutables } from '../src/host/executables.js';
import { SocketInUseError, prepareSocketPath } from '../src/server/socket.js';
import { isExpectedStartFailure, reportStartFailure } from '../src/start-failure.js';
import { captured } from './support/capture.js';

/** A JSON logger into memory, as journald would receive berth's log. */
function memoryLog() {
  const out = captured();
  const log = pino({ level: 'info' }, out);
  return { log, lines: () => out.text().trim().split('\n').filter(Boolean) };
}

/** The error a refused listen really raises (a system error, errno in `code`). */
async function addressInUse(): Promise<Error> {
  const first = createServer();
  await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
  const port = (first.address() as { port: number }).port;
  const second = createServer();
  try {
    return await new Promise<Error>((resolve) => {
      second.once('error', resolve);
      second.listen(port, '127.0.0.1');
    });
  } finally {
    await new Promise((resolve) => first.close(resolve));
  }
}

describe('expected start-up failures', () => {
  let dir: string;
  let server: Server | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-start-'));
  });
  afterEach(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a socket another process serves with an error the operator can act on', async () => {
    const socket = path.join(dir, 'b.sock');
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(socket, resolve));
    const err = await prepareSocketPath(socket).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SocketInUseError);
    expect(err).toBeInstanceOf(StartError);
    expect((err as Error).message).toBe(`another process is serving on ${socket} (a running berth? systemctl status berth)`);
    expect(isExpectedStartFailure(err)).toBe(true);
  });

  it('refuses to replace a file that is no socket', async () => {
    const file = path.join(dir, 'b.sock');
    await writeFile(file, '');
    const err = await prepareSocketPath(file).catch((e: unknown) => e);
    expect(isExpectedStartFailure(err)).toBe(true);
    expect((err as Error).message).toBe(`${file} exists and is not a socket; refusing to replace it`);
  });

  it('counts a missing conmon or runtime as expected, naming the key and path', async () => {
    const config = defaultConfig();
    config.runtime.conmon = path.join(dir, 'no-conmon');
    config.runtimes.runc!.runtime_path = path.join(dir, 'no-runc');
    const err = await checkExecutables(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartError);
    expect((err as Error).message).toContain(
      `runtime.conmon: ${config.runtime.conmon} does not exist; runtimes.runc.runtime_path: ${path.join(dir, 'no-runc')}`,
    );
  });

  it('counts what the host refuses (a port in use, an unwritable root) as expected, and a bug as not', async () => {
    const inUse = await addressInUse();
    expect(inUse.message).toContain('EADDRINUSE');
    expect(isExpectedStartFailure(inUse)).toBe(true);
    const readOnly = Object.assign(new Error("EROFS: read-only file system, mkdir '/var/lib/berth'"), { code: 'EROFS', syscall: 'mkdir' });
    expect(isExpectedStartFailure(readOnly)).toBe(true);
    expect(isExpectedStartFailure(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isExpectedStartFailure(Object.assign(new Error('no such file'), { code: 'ENOENT', syscall: 'open' }))).toBe(false);
    expect(isExpectedStartFailure('a string')).toBe(false);
  });
});

describe('reporting a start-up failure', () => {
  const inUse = new SocketInUseError('another process is serving on /run/berth/berth.sock (a running berth? systemctl status berth)');

  it('gives a terminal one line, and no log line repeating it', () => {
    const { log, lines } = memoryLog();
    const stderr = captured();
    reportStartFailure(inUse, log, stderr, true);
    expect(stderr.text()).toBe(`berth: ${inUse.message}\n`);
    expect(lines()).toEqual([]);
  });

  it('logs an expected failure for journald as one fatal line without a stack', () => {
    const { log, lines } = memoryLog();
    const stderr = captured();
    reportStartFailure(inUse, log, stderr, false);
    expect(stderr.text()).toBe(`berth: ${inUse.message}\n`);
    expect(lines()).toHaveLength(1);
    const entry = JSON.parse(lines()[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 60, msg: `cannot start: ${inUse.message}`, failure: 'SocketInUseError' });
    expect(lines()[0]).not.toContain('stack');
    expect(lines()[0]).not.toContain('    at ');
  });

  it('keeps the stack of what looks like a bug', () => {
    const { log, lines } = memoryLog();
    const stderr = captured();
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    reportStartFailure(bug, log, stderr, true);
    expect(stderr.text()).toBe(`berth: ${bug.message}\n`);
    const entry = JSON.parse(lines()[0]!) as { err: { stack: string } };
    expect(entry.err.stack).toContain('start-failure.test.ts');
  });
});
