import pino, { type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config/schema.js';

export type { Logger } from 'pino';

/** How the log is written: `log_format` resolved against where stderr goes. */
export type LogOutput = { format: 'json' } | { format: 'text'; colorize: boolean; sync: boolean; translateTime: string };

/**
 * `auto` is text for an operator watching a terminal and JSON for anything
 * else (journald under systemd, a collector). Text to a terminal is written
 * synchronously, as Node writes a terminal anyway, so that a line logged
 * just before exiting is seen; text to a pipe or file is written
 * asynchronously, so that a slow reader cannot stall the daemon.
 */
export function logOutput(format: LogFormat, stderr: { isTTY: boolean; noColor: boolean }): LogOutput {
  const text = format === 'text' || (format === 'auto' && stderr.isTTY);
  if (!text) return { format: 'json' };
  return stderr.isTTY
    ? { format: 'text', colorize: !stderr.noColor, sync: true, translateTime: 'SYS:HH:MM:ss.l' }
    : { format: 'text', colorize: false, sync: false, translateTime: 'SYS:standard' };
}

/** Where the daemon's stderr goes, as logOutput needs it (NO_COLOR: https://no-color.org). */
export function stderrTraits(): { isTTY: boolean; noColor: boolean } {
  return { isTTY: process.stderr.isTTY === true, noColor: Boolean(process.env.NO_COLOR) };
}

/**
 * The daemon's logger. Logs go to stderr so that `berth config` and other
 * commands keep stdout for their output. Credentials are redacted wherever a
 * request is logged.
 */
export async function createLogger(level: LogLevel, format: LogFormat, stderr = stderrTraits()): Promise<Logger> {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    onChild: (child) => track(child),
    redact: {
      paths: ['auth.password', 'auth.auth', 'auth.identityToken', 'auth.registryToken', '*.authorization'],
      censor: '[redacted]',
    },
  };
  const output = logOutput(format, stderr);
  if (output.format === 'text') {
    // Loaded only for this format: it is a large module that JSON logging never uses.
    const { default: pretty } = await import('pino-pretty');
    const { colorize, sync, translateTime } = output;
    return pino(options, pretty({ destination: 2, colorize, sync, translateTime, singleLine: true, ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ dest: 2, sync: false }));
}

/**
 * pino children copy their parent's level when made: a reload that changes
 * the level must reach the long-lived ones (one per component) too. They
 * are held weakly; per-call children come and go.
 */
const children = new Set<WeakRef<Logger>>();

function track(child: Logger): void {
  if (children.size > 1000) for (const ref of children) if (!ref.deref()) children.delete(ref);
  children.add(new WeakRef(child));
}

/** Sets the level of the daemon's logger and of every logger made from it. */
export function setLogLevel(root: Logger, level: LogLevel): void {
  root.level = level;
  for (const ref of children) {
    const child = ref.deref();
    if (child) child.level = level;
    else children.delete(ref);
  }
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * A catch handler for a failure berth carries on after (a cleanup that
 * finds nothing to clean, a best-effort release): logged once at `level`
 * with what was being done, never swallowed silently.
 */
export function logFailure(log: Logger, level: 'debug' | 'info' | 'warn', msg: string, fields: Record<string, unknown> = {}): (err: unknown) => undefined {
  return (err: unknown) => {
    log[level]({ ...fields, err }, msg);
    return undefined;
  };
}
