import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './config/schema.js';

export type { Logger } from 'pino';

/**
 * The daemon's logger. Logs go to stderr so that `berth config` and other
 * commands keep stdout for their output. Credentials are redacted wherever a
 * request is logged.
 */
export function createLogger(level: LogLevel, format: LogFormat): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['auth.password', 'auth.auth', 'auth.identityToken', 'auth.registryToken', '*.authorization'],
      censor: '[redacted]',
    },
  };
  if (format === 'text') {
    return pino(options, pretty({ destination: 2, colorize: false, sync: true, singleLine: true, ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
