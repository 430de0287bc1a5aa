/**
 * The closed set of error kinds berth uses everywhere. Mechanisms throw a
 * RuntimeError with one of these kinds; the gRPC adapter turns the kind into
 * a status code in exactly one place (src/server/grpc-status.ts). Matching is
 * always on `kind`, never on message text or class identity.
 */
export const ERROR_KINDS = [
  'not-found',
  'already-exists',
  'invalid-argument',
  'failed-precondition',
  'permission-denied',
  'unauthenticated',
  'resource-exhausted',
  'unavailable',
  'deadline-exceeded',
  'canceled',
  'unimplemented',
  'internal',
  'runtime-failed',
  'unknown',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

export class RuntimeError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'RuntimeError';
  }
}

/**
 * A start-up failure the operator can fix and whose message says what to
 * fix (a socket another daemon serves, a missing conmon): berth reports it
 * in one line, without a stack, which would only say where it noticed.
 */
export class StartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartError';
  }
}

export function isRuntimeError(err: unknown): err is RuntimeError {
  const kind = err instanceof Error ? (err as unknown as { kind?: unknown }).kind : undefined;
  return typeof kind === 'string' && (ERROR_KINDS as readonly string[]).includes(kind);
}

export function errorKind(err: unknown): ErrorKind {
  if (isRuntimeError(err)) return err.kind;
  if (isAbortError(err)) return 'canceled';
  return 'unknown';
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR');
}

/** Node's system errors carry an errno name in `code` (ENOENT, EEXIST...). */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const notFound = (msg: string, cause?: unknown) => new RuntimeError('not-found', msg, { cause });
export const invalidArgument = (msg: string, cause?: unknown) => new RuntimeError('invalid-argument', msg, { cause });
export const failedPrecondition = (msg: string, cause?: unknown) => new RuntimeError('failed-precondition', msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new RuntimeError('unavailable', msg, { cause });
export const internal = (msg: string, cause?: unknown) => new RuntimeError('internal', msg, { cause });
/** A helper berth runs (the OCI runtime, conmon, a CNI plugin) failed; the message carries its own words. */
export const runtimeFailed = (msg: string, cause?: unknown) => new RuntimeError('runtime-failed', msg, { cause });
export const alreadyExists = (msg: string, cause?: unknown) => new RuntimeError('already-exists', msg, { cause });
export const permissionDenied = (msg: string, cause?: unknown) => new RuntimeError('permission-denied', msg, { cause });
export const unauthenticated = (msg: string, cause?: unknown) => new RuntimeError('unauthenticated', msg, { cause });
export const resourceExhausted = (msg: string, cause?: unknown) => new RuntimeError('resource-exhausted', msg, { cause });
export const deadlineExceeded = (msg: string, cause?: unknown) => new RuntimeError('deadline-exceeded', msg, { cause });
export const canceled = (msg: string, cause?: unknown) => new RuntimeError('canceled', msg, { cause });
export const unimplemented = (msg: string, cause?: unknown) => new RuntimeError('unimplemented', msg, { cause });
