import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import { loadCriProto } from '../src/server/proto.js';
import { buildServices } from '../src/server/service.js';
import type { Deps } from '../src/server/deps.js';

describe('the CRI services', () => {
  it('have a handler for every one of the 41 RPCs of cri-api v0.36', async () => {
    const proto = await loadCriProto();
    const deps = { config: defaultConfig(), log: silentLogger(), lifecycle: { ready: true } } as unknown as Deps;
    const { runtime, image, missing } = buildServices(proto, deps);
    expect(Object.keys(runtime).length + Object.keys(image).length).toBe(41);
    expect(missing).toEqual([]);
  });
});
