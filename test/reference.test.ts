import { describe, expect, it } from 'vitest';
import { formatReference, parseImageId, parseReference } from '../src/image/reference.js';

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest', true],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', true],
    ['library/busybox', 'docker.io/library/busybox:latest', true],
    ['myorg/app:v1', 'docker.io/myorg/app:v1', true],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', false],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', false],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10', false],
    ['localhost/app', 'localhost/app:latest', false],
    ['127.0.0.1:5000/a/b/c:tag', '127.0.0.1:5000/a/b/c:tag', false],
    ['[::1]:5000/app:1', '[::1]:5000/app:1', false],
  ])('%s → %s', (input, expected, short) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(expected);
    expect(ref.shortName).toBe(short);
  });

  it('keeps a digest and adds no tag', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    const ref = parseReference(`gcr.io/x/y@${d}`);
    expect(ref.digest).toBe(d);
    expect(ref.tag).toBeUndefined();
    expect(formatReference(ref)).toBe(`gcr.io/x/y@${d}`);
  });

  it.each([
    [''],
    ['library/UPPER'],
    ['busybox:bad tag'],
    ['busybox@sha256:short'],
    ['a//b'],
    ['-leading'],
    [`busybox:${'x'.repeat(129)}`],
    ['a'.repeat(64)],
    ['host:99999999999999999999999/x:tag:'],
  ])('rejects %j with invalid-argument', (input) => {
    expect(() => parseReference(input)).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });

  it('recognises image ids', () => {
    const hex = 'b'.repeat(64);
    expect(parseImageId(hex)).toBe(`sha256:${hex}`);
    expect(parseImageId(`sha256:${hex}`)).toBe(`sha256:${hex}`);
    expect(parseImageId('busybox')).toBeUndefined();
  });
});
