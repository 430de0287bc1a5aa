import { describe, expect, it } from 'vitest';
import { GenerationCache, IdentityCache } from '../src/server/runtime/answer-cache.js';
import { isEmptyFilter } from '../src/server/runtime/select.js';
import { loadCriProto } from '../src/server/proto.js';

describe('answers kept between polls', () => {
  it('are rebuilt when the generation moves, and only then', () => {
    const cache = new GenerationCache<{ n: number }>();
    const store = {};
    let builds = 0;
    const build = () => ({ n: ++builds });
    const a = cache.get(store, 1, build);
    expect(cache.get(store, 1, build)).toBe(a);
    const b = cache.get(store, 2, build);
    expect(b).not.toBe(a);
    expect(builds).toBe(2);
    // Another store at the same generation has its own answer.
    expect(cache.get({}, 2, build)).not.toBe(b);
  });

  it('are kept per key object', () => {
    const cache = new IdentityCache<object, string>();
    const k1 = {};
    const k2 = {};
    expect(cache.get(k1, () => 'one')).toBe('one');
    expect(cache.get(k1, () => 'other')).toBe('one');
    expect(cache.get(k2, () => 'two')).toBe('two');
  });

  it('only stand for unfiltered lists', () => {
    expect(isEmptyFilter(null)).toBe(true);
    expect(isEmptyFilter({ id: '', podSandboxId: '', state: null, labelSelector: {} })).toBe(true);
    expect(isEmptyFilter({ labelSelector: { app: 'x' } })).toBe(false);
    expect(isEmptyFilter({ state: { state: 'CONTAINER_RUNNING' } })).toBe(false);
    expect(isEmptyFilter({ podSandboxId: 'abc' })).toBe(false);
  });

  it('are encoded once per answer object', async () => {
    const proto = await loadCriProto();
    const codec = proto.runtime.v1.RuntimeService.service.ListContainers as unknown as { responseSerialize(v: object): Buffer };
    const answer = { containers: [{ id: 'c1', state: 'CONTAINER_RUNNING' }] };
    const first = codec.responseSerialize(answer);
    expect(codec.responseSerialize(answer)).toBe(first);
    expect(codec.responseSerialize({ containers: [{ id: 'c1', state: 'CONTAINER_RUNNING' }] })).not.toBe(first);
  });
});
