import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { parseImageConfig, parseIndex, parseManifest } from '../../src/image/documents.js';

/**
 * Image indexes, manifests and configs as a registry may send them: any
 * bytes, any JSON, and real documents with fields of the wrong type. Each
 * parser gives a document of the promised shape or refuses it with
 * failed-precondition, never another exception.
 */
function refusedOrShaped<T>(parse: () => T, check: (doc: T) => void): void {
  let doc: T;
  try {
    doc = parse();
  } catch (err) {
    expect(isRuntimeError(err) && err.kind === 'failed-precondition', String(err)).toBe(true);
    return;
  }
  check(doc);
}

const digest = fc.stringMatching(/^sha256:[0-9a-f]{64}$/);
/** A value of any JSON type, to put where a field of one type belongs. */
const anything = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);
const descriptor = fc.record(
  {
    mediaType: fc.oneof(fc.constant('application/vnd.oci.image.layer.v1.tar+gzip'), anything),
    digest: fc.oneof(digest, anything),
    size: fc.oneof(fc.nat(), anything),
    annotations: anything,
    platform: anything,
  },
  { requiredKeys: [] },
);
const manifest = fc.record(
  {
    schemaVersion: fc.oneof(fc.constant(2), anything),
    config: fc.oneof(descriptor, anything),
    layers: fc.oneof(fc.array(fc.oneof(descriptor, anything), { maxLength: 4 }), anything),
    artifactType: anything,
  },
  { requiredKeys: [] },
);
const index = fc.record(
  { schemaVersion: fc.oneof(fc.constant(2), anything), manifests: fc.oneof(fc.array(fc.oneof(descriptor, anything), { maxLength: 4 }), anything) },
  { requiredKeys: [] },
);
const config = fc.record(
  {
    os: anything,
    config: fc.oneof(
      fc.record(
        {
          User: anything,
          Env: fc.oneof(fc.array(fc.string()), anything),
          Entrypoint: anything,
          Cmd: anything,
          Labels: anything,
          ExposedPorts: anything,
          Volumes: anything,
          WorkingDir: anything,
          StopSignal: anything,
        },
        { requiredKeys: [] },
      ),
      anything,
    ),
    rootfs: fc.oneof(
      fc.record({ type: anything, diff_ids: fc.oneof(fc.array(fc.oneof(digest, anything), { maxLength: 3 }), anything) }, { requiredKeys: [] }),
      anything,
    ),
  },
  { requiredKeys: [] },
);
const asBytes = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null');
const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');

function checkDescriptor(d: { mediaType: unknown; digest: unknown; size: unknown; annotations?: unknown }): void {
  expect(typeof d.mediaType).toBe('string');
  expect(typeof d.digest).toBe('string');
  expect(Number.isSafeInteger(d.size)).toBe(true);
  if (d.annotations !== undefined) expect(Object.values(d.annotations as object).every((v) => typeof v === 'string')).toBe(true);
}

describe('image documents under hostile input', () => {
  it('any bytes are parsed or refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const bytes = Buffer.from(b);
        refusedOrShaped(
          () => parseIndex(bytes, 'x'),
          () => undefined,
        );
        refusedOrShaped(
          () => parseManifest(bytes, 'x'),
          () => undefined,
        );
        refusedOrShaped(
          () => parseImageConfig(bytes, 'x'),
          () => undefined,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('a manifest comes back with a config and layers of descriptors, or is refused', () => {
    fc.assert(
      fc.property(manifest, (m) =>
        refusedOrShaped(
          () => parseManifest(asBytes(m), 'x'),
          (doc) => {
            checkDescriptor(doc.config);
            doc.layers.forEach(checkDescriptor);
          },
        ),
      ),
      { numRuns: 500 },
    );
  });

  it('an index comes back with a list of descriptors, or is refused', () => {
    fc.assert(
      fc.property(index, (i) =>
        refusedOrShaped(
          () => parseIndex(asBytes(i), 'x'),
          (doc) => {
            doc.manifests.forEach(checkDescriptor);
            for (const m of doc.manifests) if (m.platform) expect(typeof m.platform.os === 'string' && typeof m.platform.architecture === 'string').toBe(true);
          },
        ),
      ),
      { numRuns: 500 },
    );
  });

  it('a config comes back with every field berth reads of its type, or is refused', () => {
    fc.assert(
      fc.property(config, (c) =>
        refusedOrShaped(
          () => parseImageConfig(asBytes(c), 'x'),
          (doc) => {
            const cfg = doc.config ?? {};
            for (const k of ['User', 'WorkingDir', 'StopSignal'] as const) if (cfg[k] !== undefined) expect(typeof cfg[k]).toBe('string');
            if (cfg.Env !== undefined) expect(strings(cfg.Env)).toBe(true);
            for (const v of [cfg.Entrypoint, cfg.Cmd]) if (v !== undefined && v !== null) expect(strings(v)).toBe(true);
            if (cfg.Labels) expect(Object.values(cfg.Labels).every((v) => typeof v === 'string')).toBe(true);
            for (const v of [cfg.ExposedPorts, cfg.Volumes]) if (v) expect(Object.values(v).every((e) => typeof e === 'object' && e !== null)).toBe(true);
            if (doc.rootfs) expect(strings(doc.rootfs.diff_ids)).toBe(true);
          },
        ),
      ),
      { numRuns: 500 },
    );
  });

  it('a well-formed manifest is read as written', () => {
    fc.assert(
      fc.property(digest, fc.array(fc.tuple(digest, fc.nat()), { maxLength: 5 }), (configDigest, layers) => {
        const m = {
          schemaVersion: 2,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 10 },
          layers: layers.map(([d, size]) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d, size })),
        };
        expect(parseManifest(asBytes(m), 'x')).toEqual({ ...m, mediaType: undefined });
      }),
    );
  });
});
