import { status } from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, RuntimeError } from '../src/errors.js';
import { STATUS_BY_KIND, toGrpcStatus } from '../src/server/grpc-status.js';

describe('error kinds', () => {
  it('every kind has a status and a line in docs/errors.md', async () => {
    const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
    for (const kind of ERROR_KINDS) {
      expect(STATUS_BY_KIND[kind]).toBeTypeOf('number');
      expect(doc).toContain(`| \`${kind}\` | ${status[STATUS_BY_KIND[kind]]} |`);
    }
  });

  it('maps kinds, aborts and strangers', () => {
    expect(toGrpcStatus(new RuntimeError('not-found', 'image x not found'))).toEqual({ code: status.NOT_FOUND, details: 'image x not found' });
    const abort = new DOMException('aborted', 'AbortError');
    expect(toGrpcStatus(abort).code).toBe(status.CANCELLED);
    expect(toGrpcStatus(new Error('boom')).code).toBe(status.UNKNOWN);
    // A numeric errno-style code must not leak through as a gRPC code.
    expect(toGrpcStatus(Object.assign(new Error('x'), { code: 1 })).code).toBe(status.UNKNOWN);
  });
});
