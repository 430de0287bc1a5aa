import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { parseHookFile } from '../../src/hooks/hook-file.js';
import { parseAuthFile } from '../../src/image/auth-file.js';
import { parseReference } from '../../src/image/reference.js';
import { parseRegistriesConf } from '../../src/image/registries-conf.js';
import { parseChallenges } from '../../src/registry/auth.js';
import { parsePolicy } from '../../src/signature/policy.js';

/**
 * Files an operator or a tool writes (registries.conf, auth.json,
 * policy.json, OCI hook files) and strings a request or a registry sends
 * (image references, WWW-Authenticate challenges). Whatever they hold, a
 * parser returns or throws one of the project's error kinds, which berth
 * reports: never a TypeError or RangeError from a shape it did not expect.
 */
function deliberate(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    if (!isRuntimeError(err)) throw err;
  }
}

async function deliberateAsync(parse: () => Promise<unknown>): Promise<void> {
  try {
    await parse();
  } catch (err) {
    if (!isRuntimeError(err)) throw err;
  }
}

/** JSON documents of any shape, and ones shaped like the file with wrong types inside. */
const anyJson = fc.jsonValue({ maxDepth: 4 });
const jsonText = fc.oneof(
  anyJson.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
);

const authShaped = fc
  .dictionary(fc.oneof(fc.domain(), fc.string({ maxLength: 20 })), fc.oneof(anyJson, fc.record({ auth: fc.oneof(fc.base64String(), anyJson) })), {
    maxKeys: 4,
  })
  .map((auths) => JSON.stringify({ auths }));

const policyShaped = fc
  .record({
    default: fc.oneof(anyJson, fc.constant([{ type: 'insecureAcceptAnything' }]), fc.array(fc.record({ type: fc.string({ maxLength: 20 }) }))),
    transports: fc.oneof(anyJson, fc.dictionary(fc.constantFrom('docker', 'atomic', 'x'), fc.dictionary(fc.string({ maxLength: 20 }), anyJson))),
  })
  .map((p) => JSON.stringify(p));

const hookShaped = fc
  .record({
    version: fc.constantFrom('1.0.0', '0.1.0', 1),
    hook: fc.oneof(anyJson, fc.record({ path: fc.constantFrom('/bin/true', 'relative', '/nonexistent'), args: anyJson, env: anyJson, timeout: anyJson })),
    when: fc.oneof(anyJson, fc.record({ always: anyJson, commands: anyJson, annotations: anyJson, hasBindMounts: anyJson })),
    stages: fc.oneof(anyJson, fc.array(fc.constantFrom('prestart', 'poststop', 'createRuntime', 'bogus'))),
  })
  .map((h) => JSON.stringify(h));

/** TOML-like text: tables, arrays of tables, keys with values of every kind, and noise. */
const tomlLine = fc.oneof(
  fc.constantFrom('[[registry]]', '[[registry.mirror]]', '[aliases]', 'unqualified-search-registries = ["a.example"]', 'short-name-mode = "enforcing"'),
  fc
    .tuple(
      fc.constantFrom('location', 'prefix', 'insecure', 'blocked', 'mirror-by-digest-only', 'pull-from-mirror', 'unqualified-search-registries', '"x"'),
      fc.oneof(
        fc.constantFrom('true', '"127.0.0.1:5000"', '[]', '[1, 2]', '{ a = 1 }', '"*.example"', '"a/b/../c"', '1979-05-27'),
        fc.string({ maxLength: 20 }),
      ),
    )
    .map(([k, v]) => `${k} = ${v}`),
  fc.string({ maxLength: 40 }),
);
const tomlText = fc.array(tomlLine, { maxLength: 12 }).map((lines) => lines.join('\n'));

describe('configuration files and registry strings under hostile input', () => {
  it('registries.conf: any text is parsed or refused with a project error', () => {
    fc.assert(
      fc.property(tomlText, (text) => deliberate(() => parseRegistriesConf(text, 'registries.conf'))),
      { numRuns: 500, seed: 11 },
    );
  });

  it('auth.json: any document is parsed or refused with a project error', () => {
    fc.assert(
      fc.property(fc.oneof(jsonText, authShaped), (text) => deliberate(() => parseAuthFile(text))),
      { numRuns: 500, seed: 12 },
    );
  });

  it('policy.json: any document is parsed or refused with a project error', () => {
    fc.assert(
      fc.property(fc.oneof(jsonText, policyShaped), (text) => deliberate(() => parsePolicy(text))),
      { numRuns: 500, seed: 13 },
    );
  });

  it('OCI hook files: any document is parsed or refused with a project error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonText, hookShaped), (text) => deliberateAsync(() => parseHookFile('hook.json', text))),
      { numRuns: 300, seed: 14 },
    );
  });

  it('image references and WWW-Authenticate challenges: any string is parsed or refused', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        deliberate(() => parseReference(s));
        deliberate(() => parseChallenges(s));
      }),
      { numRuns: 1000, seed: 15 },
    );
    expect(() => parseReference('Bad Name')).toThrow();
  });
});
