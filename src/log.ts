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

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
