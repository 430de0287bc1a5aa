import { describe, expect, it } from 'vitest';
import { aliasTarget, isInsecureHost, parseRegistriesConf, pullSources } from '../src/image/registries-conf.js';

const CONF = `
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000"
insecure = true
[[registry.mirror]]
location = "mirror.example.com/dockerhub"
pull-from-mirror = "digest-only"

[[registry]]
prefix = "docker.io/private"
location = "private.example.com/hub"

[[registry]]
location = "blocked.example.com"
blocked = true

[[registry]]
prefix = "*.corp.example"
insecure = true

[aliases]
"box" = "quay.io/some/box"
`;

describe('registries.conf', () => {
  const conf = parseRegistriesConf(CONF, 'test.conf');

  it('tries mirrors in order, then the rewritten location', () => {
    expect(pullSources(conf, 'docker.io/library/busybox', false)).toEqual([
      { host: '127.0.0.1:5000', path: 'library/busybox', insecure: true, mirror: true },
      { host: 'registry-1.docker.io', path: 'library/busybox', insecure: false, mirror: false },
    ]);
  });

  it('uses digest-only mirrors for digest pulls', () => {
    const hosts = pullSources(conf, 'docker.io/library/busybox', true).map((s) => `${s.host}/${s.path}`);
    expect(hosts).toEqual(['127.0.0.1:5000/library/busybox', 'mirror.example.com/dockerhub/library/busybox', 'registry-1.docker.io/library/busybox']);
  });

  it('picks the longest matching prefix and rewrites it', () => {
    expect(pullSources(conf, 'docker.io/private/app', false)).toEqual([{ host: 'private.example.com', path: 'hub/app', insecure: false, mirror: false }]);
  });

  it('does not match a prefix in the middle of a component', () => {
    expect(pullSources(conf, 'docker.io/privateer/app', false)[0]!.host).toBe('127.0.0.1:5000');
  });

  it('refuses blocked registries', () => {
    expect(() => pullSources(conf, 'blocked.example.com/x', false)).toThrow(expect.objectContaining({ kind: 'failed-precondition' }));
  });

  it('matches wildcard prefixes without rewriting', () => {
    expect(pullSources(conf, 'a.corp.example/team/app', false)).toEqual([{ host: 'a.corp.example', path: 'team/app', insecure: true, mirror: false }]);
    expect(isInsecureHost(conf, 'b.corp.example')).toBe(true);
    expect(isInsecureHost(conf, '127.0.0.1:5000')).toBe(true);
    expect(isInsecureHost(conf, 'registry-1.docker.io')).toBe(false);
  });

  it('passes unknown registries through unchanged', () => {
    expect(pullSources(conf, 'quay.io/a/b', false)).toEqual([{ host: 'quay.io', path: 'a/b', insecure: false, mirror: false }]);
  });

  it('reads aliases and search registries', () => {
    expect(aliasTarget(conf, 'box')).toBe('quay.io/some/box');
    expect(aliasTarget(conf, 'other')).toBeUndefined();
    expect(conf.unqualifiedSearchRegistries).toEqual(['docker.io']);
  });

  it.each([
    ['[[registry]]\ninsecure = "yes"\nlocation = "x"', /insecure must be true or false/],
    ['[[registry]]\ninsecure = true', /needs a prefix or a location/],
    ['unqualified-search-registries = "docker.io"', /must be an array of strings/],
    ['[[registry]\n', /invalid TOML/],
  ])('reports a bad file clearly: %j', (text, message) => {
    expect(() => parseRegistriesConf(text, 'bad.conf')).toThrow(message);
  });
});
