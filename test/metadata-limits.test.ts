import { describe, expect, it } from 'vitest';
import { checkMetadata, metadataSize } from '../src/state/metadata-limits.js';

const limits = { max_metadata_size: 1000, max_config_size: 4000, max_listed_metadata_size: 2500 };

describe('metadata limits', () => {
  it('counts keys, values and names in bytes, not characters', () => {
    expect(metadataSize({ labels: { a: 'bc' }, annotations: { ü: 'x' }, strings: ['name', 'ns'] })).toBe(3 + 3 + 6);
    expect(metadataSize({ labels: null, annotations: undefined, strings: [] })).toBe(0);
  });

  it('refuses one object past the per-object bound with INVALID_ARGUMENT naming the key', () => {
    const meta = { labels: { big: 'x'.repeat(1000) }, annotations: {}, strings: [] };
    expect(() => checkMetadata('pod a/b', meta, {}, [], limits)).toThrow(
      expect.objectContaining({ kind: 'invalid-argument', message: expect.stringContaining('runtime.max_metadata_size') }),
    );
  });

  it('refuses a config past its bound even when its labels are small', () => {
    const config = { envs: [{ key: 'K', value: 'v'.repeat(4000) }] };
    expect(() => checkMetadata('container "c"', { strings: ['c'] }, config, [], limits)).toThrow(
      expect.objectContaining({ kind: 'invalid-argument', message: expect.stringContaining('runtime.max_config_size') }),
    );
  });

  it('refuses with RESOURCE_EXHAUSTED what would push the node total past its bound, and takes it once there is room', () => {
    const meta = { labels: { k: 'v'.repeat(899) }, strings: [] };
    expect(checkMetadata('pod a/1', meta, {}, [900], limits)).toBe(900);
    expect(checkMetadata('pod a/2', meta, {}, [900, 700], limits)).toBe(900);
    expect(() => checkMetadata('pod a/3', meta, {}, [900, 900], limits)).toThrow(
      expect.objectContaining({ kind: 'resource-exhausted', message: expect.stringContaining('bring those of this kind on the node to 2700') }),
    );
  });
});
