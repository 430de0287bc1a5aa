import pino, { type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config/schema.js';

export type { Logger } from 'pino';

/**
 * The daemon's logger. Logs go to stderr so that `berth config` and other
 * commands keep stdout for their output. Credentials are redacted wherever a
 * request is logged.
 */
export async function createLogger(level: LogLevel, format: LogFormat): Promise<Logger> {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    onChild: (child) => track(child),
    redact: {
      paths: ['auth.password', 'auth.auth', 'auth.identityToken', 'auth.registryToken', '*.authorization'],
      censor: '[redacted]',
    },
  };
  if (format === 'text') {
    // Loaded only for this format: it is a large module that JSON logging never uses.
    const { default: pretty } = await import('pino-pretty');
    return pino(options, pretty({ destination: 2, colorize: false, sync: true, singleLine: true, ignore: 'pid,hostname' }));
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
