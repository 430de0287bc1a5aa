import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseReference } from '../src/image/reference.js';
import { identityMatches } from '../src/signature/identity.js';
import { signatureUrl } from '../src/signature/lookaside.js';
import { SIGSTORE_PAYLOAD_TYPE, parseClaim } from '../src/signature/payload.js';
import { dockerScopes, parsePolicy, requirementsFor } from '../src/signature/policy.js';
import { type RegistriesD, lookasideBase, mergeRegistriesDFile, usesSigstoreAttachments } from '../src/signature/registries-d.js';
import { readSigstoreKeys, verifySigstoreSignature } from '../src/signature/sigstore.js';

const ref = (s: string) => parseReference(s);

describe('containers-policy.json', () => {
  const policy = parsePolicy(
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          '': [{ type: 'insecureAcceptAnything' }],
          'registry.example.com:5000/team': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/etc/pki/team.gpg' }],
          'registry.example.com:5000/team/app:1': [{ type: 'reject' }],
          '*.internal': [{ type: 'sigstoreSigned', keyData: 'AAAA', signedIdentity: { type: 'matchRepository' } }],
        },
        'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
      },
    }),
  );

  it('orders scopes from the image down to wildcard domains', () => {
    expect(dockerScopes(ref('registry.example.com:5000/team/app:1'))).toEqual([
      'registry.example.com:5000/team/app:1',
      'registry.example.com:5000/team/app',
      'registry.example.com:5000/team',
      'registry.example.com:5000',
      '*.example.com',
      '*.com',
    ]);
    expect(dockerScopes(ref(`quay.io/a/b@sha256:${'0'.repeat(64)}`))[0]).toBe(`quay.io/a/b@sha256:${'0'.repeat(64)}`);
  });

  it('takes the most specific scope, then the transport default, then the default', () => {
    expect(requirementsFor(policy, ref('registry.example.com:5000/team/app:1')).requirements).toEqual([{ type: 'reject' }]);
    expect(requirementsFor(policy, ref('registry.example.com:5000/team/app:2'))).toMatchObject({
      scope: 'transports.docker["registry.example.com:5000/team"]',
      requirements: [{ type: 'signedBy', keys: { keyPath: '/etc/pki/team.gpg' }, signedIdentity: { type: 'matchRepoDigestOrExact' } }],
    });
    expect(requirementsFor(policy, ref('mirror.internal/x:1')).requirements[0]).toMatchObject({
      type: 'sigstoreSigned',
      signedIdentity: { type: 'matchRepository' },
    });
    expect(requirementsFor(policy, ref('busybox')).scope).toBe('transports.docker[""]');
    expect(requirementsFor(parsePolicy('{"default":[{"type":"reject"}]}'), ref('busybox')).scope).toBe('default');
  });

  it('refuses what containers/image refuses, and what berth does not support, with the place named', () => {
    const bad = (doc: unknown) => () => parsePolicy(JSON.stringify(doc));
    expect(bad({ default: [] })).toThrow('default: must be a non-empty list');
    expect(bad({ default: [{ type: 'accept' }] })).toThrow('default[0]: unknown requirement type "accept"');
    expect(bad({ default: [{ type: 'reject', extra: 1 }] })).toThrow('unknown field "extra"');
    expect(bad({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/a', keyData: 'b' }] })).toThrow('exactly one of keyPath, keyPaths and keyData');
    expect(bad({ default: [{ type: 'signedBy', keyType: 'signedByGPGKeys', keyPath: '/a' }] })).toThrow('keyType "signedByGPGKeys" is not supported');
    expect(bad({ default: [{ type: 'sigstoreSigned', fulcio: {}, signedIdentity: { type: 'matchRepository' } }] })).toThrow(
      '"fulcio" is not supported by berth',
    );
    expect(bad({ default: [{ type: 'signedBaseLayer', baseLayerIdentity: {} }] })).toThrow('"signedBaseLayer" is not supported');
    expect(bad({ default: [{ type: 'reject' }], transports: { docker: { 'a b': [{ type: 'reject' }] } } })).toThrow('invalid scope');
    expect(bad({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/a', signedIdentity: { type: 'exactReference' } }] })).toThrow(
      '"dockerReference" must be a non-empty string',
    );
  });
});

describe('signed identities', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const cases: [string, Parameters<typeof identityMatches>[0], string, string, boolean][] = [
    ['exact tag', { type: 'matchExact' }, 'quay.io/a/b:1', 'quay.io/a/b:1', true],
    ['exact, other tag', { type: 'matchExact' }, 'quay.io/a/b:1', 'quay.io/a/b:2', false],
    ['normalised names', { type: 'matchExact' }, 'busybox:1', 'docker.io/library/busybox:1', true],
    ['repo-digest-or-exact, by tag', { type: 'matchRepoDigestOrExact' }, 'quay.io/a/b:1', 'quay.io/a/b:2', false],
    ['repo-digest-or-exact, by digest', { type: 'matchRepoDigestOrExact' }, `quay.io/a/b@${digest}`, 'quay.io/a/b:anything', true],
    ['repo-digest-or-exact, name only signed', { type: 'matchRepoDigestOrExact' }, `quay.io/a/b@${digest}`, 'quay.io/a/b', false],
    ['repository', { type: 'matchRepository' }, 'quay.io/a/b:1', 'quay.io/a/b:9', true],
    ['repository, other', { type: 'matchRepository' }, 'quay.io/a/b:1', 'quay.io/a/c:1', false],
    ['exact reference', { type: 'exactReference', dockerReference: 'quay.io/x/y:2' }, 'mirror.io/a/b:1', 'quay.io/x/y:2', true],
    ['exact repository', { type: 'exactRepository', dockerRepository: 'quay.io/x/y' }, 'mirror.io/a/b:1', 'quay.io/x/y:7', true],
    ['remapped mirror', { type: 'remapIdentity', prefix: 'mirror.io/quay', signedPrefix: 'quay.io' }, 'mirror.io/quay/a/b:1', 'quay.io/a/b:1', true],
    ['remap, outside the prefix', { type: 'remapIdentity', prefix: 'mirror.io/quay', signedPrefix: 'quay.io' }, 'mirror.io/quayx/a:1', 'quay.io/x/a:1', false],
    ['garbage identity', { type: 'matchRepository' }, 'quay.io/a/b:1', 'NOT A REF', false],
  ];
  it.each(cases)('%s', (_what, rule, image, signed, expected) => {
    expect(identityMatches(rule, ref(image), signed)).toBe(expected);
  });
});

describe('registries.d', () => {
  const config: RegistriesD = { docker: new Map() };
  mergeRegistriesDFile(config, 'default-docker:\n  lookaside: https://sigs.example/store\n', 'a.yaml');
  mergeRegistriesDFile(config, 'docker:\n  quay.io/team:\n    sigstore: file:///srv/sigs\n    use-sigstore-attachments: true\n', 'b.yaml');

  it('finds the most specific namespace, then the default, and the old key names', () => {
    expect(lookasideBase(config, ref('quay.io/team/app:1')).href).toBe('file:///srv/sigs/team/app');
    expect(lookasideBase(config, ref('docker.io/library/busybox:1')).href).toBe('https://sigs.example/store/library/busybox');
    expect(usesSigstoreAttachments(config, ref('quay.io/team/app:1'))).toBe(true);
    expect(usesSigstoreAttachments(config, ref('quay.io/other/app:1'))).toBe(false);
    expect(signatureUrl(new URL('file:///srv/sigs/team/app'), `sha256:${'b'.repeat(64)}`, 2).href).toBe(
      `file:///srv/sigs/team/app@sha256=${'b'.repeat(64)}/signature-2`,
    );
    expect(lookasideBase({ docker: new Map() }, ref('quay.io/a/b:1')).href).toBe('file:///var/lib/containers/sigstore/a/b');
  });

  it('refuses a namespace defined twice and malformed values', () => {
    expect(() => mergeRegistriesDFile(config, 'docker:\n  quay.io/team:\n    lookaside: x\n', 'c.yaml')).toThrow('defined in more than one place');
    expect(() => mergeRegistriesDFile({ docker: new Map() }, 'docker:\n  q.io:\n    use-sigstore-attachments: yes-please\n', 'd.yaml')).toThrow(
      'must be true or false',
    );
    expect(() => mergeRegistriesDFile({ docker: new Map() }, 'docker: [1, 2]\n', 'e.yaml')).toThrow('must be a mapping');
  });
});

describe('sigstore signatures with a public key', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = readSigstoreKeys([Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }))]);
  const claim = (digest: string) =>
    Buffer.from(
      JSON.stringify({
        critical: { identity: { 'docker-reference': 'quay.io/a/b:1' }, image: { 'docker-manifest-digest': digest }, type: SIGSTORE_PAYLOAD_TYPE },
        optional: null,
      }),
    );
  const digest = `sha256:${'c'.repeat(64)}`;

  it('verifies the claim signed with the key, and refuses other keys and tampered claims', () => {
    const payload = claim(digest);
    const signature = sign('sha256', payload, privateKey);
    expect(verifySigstoreSignature({ payload, signature }, keys)).toEqual({ dockerReference: 'quay.io/a/b:1', manifestDigest: digest });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => verifySigstoreSignature({ payload, signature: sign('sha256', payload, other.privateKey) }, keys)).toThrow('not signed by a trusted key');
    expect(() => verifySigstoreSignature({ payload: claim(`sha256:${'d'.repeat(64)}`), signature }, keys)).toThrow('not signed by a trusted key');
  });

  it('parses claims strictly', () => {
    expect(() => parseClaim(Buffer.from('{"critical":{"type":"x"}}'), SIGSTORE_PAYLOAD_TYPE)).toThrow('not identity, image and type');
    expect(() => parseClaim(claim('sha256:short'), SIGSTORE_PAYLOAD_TYPE)).toThrow('no valid docker-manifest-digest');
    expect(() => parseClaim(claim(digest), 'atomic container signature')).toThrow('is of type "cosign container image signature"');
  });
});
