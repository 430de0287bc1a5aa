import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ContainerConfig } from '../src/generated/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../src/generated/runtime/v1/PodSandboxConfig.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { Cri } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

/**
 * The README's crictl walk-through with the files in examples/, sent as
 * crictl sends them (JSON in the proto's snake_case names). Only the image
 * is swapped for the test registry's busybox.
 */
const env = inject('env');

const camel = (key: string) => key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
/** crictl's JSON (snake_case field names) as the CRI messages the client takes. */
function fromCrictlJson<T>(value: unknown): T {
  if (Array.isArray(value)) return value.map((v) => fromCrictlJson(v)) as T;
  if (value && typeof value === 'object') {
    // Maps (labels, annotations) keep their keys.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), k === 'labels' || k === 'annotations' ? v : fromCrictlJson(v)])) as T;
  }
  return value as T;
}

async function example<T>(file: string): Promise<T> {
  return fromCrictlJson<T>(JSON.parse(await readFile(new URL(`../examples/${file}`, import.meta.url), 'utf8')));
}

describe('the examples the README walks through', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
  });
  afterAll(async () => {
    await berth.destroy();
  });

  it('runs examples/pod.json and examples/container.json, logs and exec included', async () => {
    const pod = await example<PodSandboxConfig>('pod.json');
    const container = await example<ContainerConfig>('container.json');
    expect(pod).toMatchObject({ logDirectory: '/tmp/berth-example-logs', metadata: { name: 'busybox-sandbox' } });
    container.image = { image: `${env.openRegistry}/berth-test/busybox:run` };
    await cri.pull(container.image.image!);
    const podId = await cri.runPod(pod);
    try {
      const id = await cri.run(podId, container, pod);
      const log = path.join(pod.logDirectory!, container.logPath!);
      await waitFor('the log line', async () => (await readFile(log, 'utf8').catch(() => '')).includes('stdout F hello from berth'));
      expect((await cri.exec(id, ['ls', '/'])).exitCode).toBe(0);
      await cri.stop(id, 0);
    } finally {
      await cri.removePod(podId);
      await rm(pod.logDirectory!, { recursive: true, force: true });
    }
  });

  it('ships a crictl.yaml that points at the default socket', async () => {
    const text = await readFile(new URL('../examples/crictl.yaml', import.meta.url), 'utf8');
    expect(text).toMatch(/^runtime-endpoint: unix:\/\/\/run\/berth\/berth\.sock$/m);
    expect(text).toMatch(/^image-endpoint: unix:\/\/\/run\/berth\/berth\.sock$/m);
  });
});
