import { describe, expect, it } from 'vitest';
import { MEDIA_TYPE, MT, artifactFileName, isArtifact } from '../src/image/media-types.js';

const d = (digest = `sha256:${'a'.repeat(64)}`) => ({ mediaType: 'text/plain', digest, size: 1 });

describe('OCI artifacts', () => {
  it('are manifests with an artifactType or a config that is not an image configuration', () => {
    expect(isArtifact({ schemaVersion: 2, config: { ...d(), mediaType: MT.ociConfig }, layers: [] })).toBe(false);
    expect(isArtifact({ schemaVersion: 2, config: { ...d(), mediaType: MT.dockerConfig }, layers: [] })).toBe(false);
    expect(isArtifact({ schemaVersion: 2, config: { ...d(), mediaType: 'application/vnd.oci.empty.v1+json' }, layers: [] })).toBe(true);
    expect(isArtifact({ schemaVersion: 2, artifactType: 'application/x.model', config: { ...d(), mediaType: MT.ociConfig }, layers: [] })).toBe(true);
  });

  it('store a plain-file layer under its title only when that is a plain name', () => {
    const hex = 'b'.repeat(64);
    const titled = (title: string) => artifactFileName({ ...d(`sha256:${hex}`), annotations: { 'org.opencontainers.image.title': title } });
    expect(titled('weights.bin')).toBe('weights.bin');
    expect(titled('../../etc/passwd')).toBe(hex);
    expect(titled('a/b')).toBe(hex);
    expect(titled('..')).toBe(hex);
    expect(titled('')).toBe(hex);
    expect(artifactFileName(d(`sha256:${hex}`))).toBe(hex);
  });

  it('accept media types of the form type/subtype only', () => {
    expect(MEDIA_TYPE.test('application/vnd.oci.image.layer.v1.tar+gzip')).toBe(true);
    expect(MEDIA_TYPE.test('text/plain')).toBe(true);
    expect(MEDIA_TYPE.test('text/plain; charset=utf-8')).toBe(false);
    expect(MEDIA_TYPE.test('../x')).toBe(false);
  });
});
