import { status } from '@grpc/grpc-js';
import { type ErrorKind, errorKind, messageOf } from '../errors.js';

/** The one map from berth's error kinds to gRPC status codes. */
export const STATUS_BY_KIND: Record<ErrorKind, status> = {
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  'invalid-argument': status.INVALID_ARGUMENT,
  'failed-precondition': status.FAILED_PRECONDITION,
  'permission-denied': status.PERMISSION_DENIED,
  unauthenticated: status.UNAUTHENTICATED,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  'deadline-exceeded': status.DEADLINE_EXCEEDED,
  canceled: status.CANCELLED,
  unimplemented: status.UNIMPLEMENTED,
  internal: status.INTERNAL,
  // As containerd and CRI-O answer a runc or plugin failure.
  'runtime-failed': status.UNKNOWN,
  unknown: status.UNKNOWN,
};

export interface GrpcErrorStatus {
  code: status;
  details: string;
}

export function toGrpcStatus(err: unknown): GrpcErrorStatus {
  return { code: STATUS_BY_KIND[errorKind(err)], details: messageOf(err) };
}
