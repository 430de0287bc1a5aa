import { StartError, errnoCode, messageOf } from './errors.js';
import type { Logger } from './log.js';

/**
 * What the host refuses, named by errno: an unwritable or full root, a
 * port another program holds. Their stacks show only Node's internals.
 */
const HOST_REFUSALS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EADDRINUSE', 'EADDRNOTAVAIL']);

/** A failure the operator fixes on the host (as opposed to a bug in berth, whose stack is wanted). */
export function isExpectedStartFailure(err: unknown): boolean {
  if (err instanceof StartError) return true;
  const syscall = (err as { syscall?: unknown } | null)?.syscall;
  return err instanceof Error && typeof syscall === 'string' && HOST_REFUSALS.has(errnoCode(err) ?? '');
}

/**
 * Reports why the daemon did not start. A terminal gets one line; a log
 * collector (stderr not a terminal: journald) gets the fatal log line too,
 * with the stack only for what looks like a bug.
 */
export function reportStartFailure(err: unknown, log: Logger, stderr: NodeJS.WritableStream, stderrIsTTY: boolean): void {
  const message = messageOf(err);
  if (!isExpectedStartFailure(err)) log.fatal({ err }, `cannot start: ${message}`);
  // Not under `err`: pino and pino-pretty would dress it up as an error, stack and all.
  else if (!stderrIsTTY) log.fatal({ failure: (err as Error).name, errno: errnoCode(err) }, `cannot start: ${message}`);
  stderr.write(`berth: ${message}\n`);
}
