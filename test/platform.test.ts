import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/image/media-types.js';
import { selectPlatform } from '../src/image/platform.js';

const d = (architecture: string, variant?: string, os = 'linux'): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${architecture}${variant ?? ''}${os}`,
  size: 1,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
});

describe('selectPlatform', () => {
  it('chooses the matching os and architecture', () => {
    const chosen = selectPlatform([d('arm64', 'v8'), d('amd64'), d('amd64', undefined, 'windows')], { os: 'linux', architecture: 'amd64' });
    expect(chosen.platform).toEqual({ os: 'linux', architecture: 'amd64' });
  });

  it('prefers the exact arm variant and treats arm64 without variant as v8', () => {
    expect(selectPlatform([d('arm', 'v6'), d('arm', 'v7')], { os: 'linux', architecture: 'arm', variant: 'v7' }).platform?.variant).toBe('v7');
    expect(selectPlatform([d('arm64')], { os: 'linux', architecture: 'arm64', variant: 'v8' }).platform?.architecture).toBe('arm64');
  });

  it('fails with not-found listing what the index has', () => {
    expect(() => selectPlatform([d('arm64', 'v8'), d('s390x')], { os: 'linux', architecture: 'amd64' })).toThrow(/linux\/arm64\/v8, linux\/s390x/);
  });
});
