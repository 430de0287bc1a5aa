import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCdiSpec } from '../../src/cdi/spec.js';

// A spec file is written by whoever can drop a file into the CDI directories; the
// registry logs and skips a file whose parse throws, so any throw must be a plain
// Error saying what is wrong, never a TypeError or RangeError from the parser itself.
function assertRefusalIsDeliberate(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(RangeError);
  }
}

const hostileValue = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, '__proto__', 'NaN', '-1', 1e308, 2 ** 53),
  fc.array(fc.anything({ maxDepth: 3 }), { maxLength: 4 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'path', 'hostPath'), fc.anything({ maxDepth: 2 })),
);

const validSpec = fc.record({
  cdiVersion: fc.constantFrom('0.6.0', '1.0.0'),
  kind: fc.constantFrom('vendor.com/gpu', 'example.org/net'),
  devices: fc.array(
    fc.record({ name: fc.stringMatching(/^[a-z0-9]{1,8}$/), containerEdits: fc.record({ env: fc.array(fc.constant('A=1'), { maxLength: 2 }) }) }),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
});

describe('parseCdiSpec under hostile input', () => {
  it('refuses arbitrary text with an Error, never a crash', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 512 }), (text) => assertRefusalIsDeliberate(() => parseCdiSpec('x.json', text))),
      { seed: 23, numRuns: 300 },
    );
  });

  it('refuses arbitrary YAML-ish text with an Error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 512 }), (text) => assertRefusalIsDeliberate(() => parseCdiSpec('x.yaml', text))),
      { seed: 23, numRuns: 300 },
    );
  });

  it('refuses a valid spec with one field replaced by a hostile value', () => {
    const edit = fc.constantFrom('cdiVersion', 'kind', 'devices', 'containerEdits', 'device', 'deviceEdits', 'env');
    fc.assert(
      fc.property(validSpec, edit, hostileValue, (spec, field, value) => {
        const doc: Record<string, unknown> = structuredClone(spec);
        const device = (doc.devices as Record<string, unknown>[])[0] as Record<string, unknown>;
        if (field === 'device') (doc.devices as unknown[])[0] = value;
        else if (field === 'deviceEdits') device.containerEdits = value;
        else if (field === 'env') (device.containerEdits as Record<string, unknown>).env = value;
        else doc[field] = value;
        assertRefusalIsDeliberate(() => parseCdiSpec('x.json', JSON.stringify(doc)));
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: 23, numRuns: 400 },
    );
  });
});
