import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { type Fixtures, pushFixtures } from '../fixtures/test-images.js';
import { type TestRegistry, startRegistry } from '../lib/registry.js';

/**
 * Once per e2e run: two real registries on loopback (one open, one behind
 * htpasswd basic auth), loaded with the fixture images.
 */
export interface E2eEnvironment {
  openRegistry: string;
  authRegistry: string;
  credentials: { username: string; password: string };
  fixtures: Fixtures;
}

declare module 'vitest' {
  export interface ProvidedContext {
    env: E2eEnvironment;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-registries-'));
  const registries: TestRegistry[] = [];
  try {
    const open = await startRegistry(path.join(dir, 'open'));
    registries.push(open);
    const credentials = { username: 'berth', password: 'secret-pass' };
    const auth = await startRegistry(path.join(dir, 'auth'), credentials);
    registries.push(auth);
    const fixtures = await pushFixtures(open);
    await pushFixtures(auth);
    project.provide('env', { openRegistry: open.host, authRegistry: auth.host, credentials, fixtures });
  } catch (err) {
    await Promise.all(registries.map((r) => r.stop()));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return async () => {
    await Promise.all(registries.map((r) => r.stop()));
    await rm(dir, { recursive: true, force: true });
  };
}
