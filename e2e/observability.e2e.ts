import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ContainerEventResponse__Output } from '../src/generated/runtime/v1/ContainerEventResponse.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;

/** Collects every message of a server stream. */
function drain<T>(stream: NodeJS.EventEmitter): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (m: T) => out.push(m));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

describe('stats, events, metrics and the streaming list RPCs', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let podId: string;
  let pod: ReturnType<typeof podConfig>;
  let burner: string;
  let metricsPort: number;
  const rt = () => berth.client.runtime;

  beforeAll(async () => {
    metricsPort = await freePort();
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, await freePort()),
      config: testBerthConf(env),
      extraArgs: ['--metrics-address', `127.0.0.1:${metricsPort}`],
    });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    pod = podConfig('observed', path.join(berth.dir, 'logs'), { linux: { cgroupParent: `/berth-e2e-stats/pod-${Date.now()}` } });
    podId = await cri.runPod(pod);
  });
  afterAll(async () => {
    await cri.removePod(podId);
    await berth.destroy();
  });

  /** Subscribes to GetContainerEvents; `lifeOf(id)` waits for an object's four events and ends the stream. */
  async function watchEvents() {
    const stream = rt().GetContainerEvents({});
    const events: ContainerEventResponse__Output[] = [];
    stream.on('data', (e: ContainerEventResponse__Output) => events.push(e));
    stream.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    return {
      async lifeOf(id: string) {
        await waitFor('four events', async () => events.filter((e) => e.containerId === id).length >= 4);
        stream.cancel();
        return events.filter((e) => e.containerId === id);
      },
    };
  }

  it('sees the whole life of a container as events, in order', async () => {
    const watch = await watchEvents();
    const id = await cri.run(podId, containerConfig('brief', IMAGE, { command: ['true'] }), pod);
    await cri.waitExited(id);
    await cri.removeContainer(id);
    const mine = await watch.lifeOf(id);
    expect(mine.map((e) => e.containerEventType)).toEqual([
      'CONTAINER_CREATED_EVENT',
      'CONTAINER_STARTED_EVENT',
      'CONTAINER_STOPPED_EVENT',
      'CONTAINER_DELETED_EVENT',
    ]);
    expect(mine[2]!.podSandboxStatus?.id).toBe(podId);
    expect(mine[2]!.containersStatuses.find((c) => c.id === id)?.state).toBe('CONTAINER_EXITED');
  });

  it("sees a pod's own life as events keyed by its id, as containerd sends them", async () => {
    const watch = await watchEvents();
    const otherId = await cri.runPod(podConfig('evented', path.join(berth.dir, 'logs', 'evented')));
    await cri.stopPod(otherId);
    await cri.removePod(otherId);
    const mine = await watch.lifeOf(otherId);
    expect(mine.map((e) => e.containerEventType)).toEqual([
      'CONTAINER_CREATED_EVENT',
      'CONTAINER_STARTED_EVENT',
      'CONTAINER_STOPPED_EVENT',
      'CONTAINER_DELETED_EVENT',
    ]);
    expect(mine.map((e) => e.podSandboxStatus?.state)).toEqual(['SANDBOX_READY', 'SANDBOX_READY', 'SANDBOX_NOTREADY', 'SANDBOX_NOTREADY']);
    expect(mine.every((e) => e.podSandboxStatus?.id === otherId)).toBe(true);
  });

  it('reports rising CPU and memory for a busy container', async () => {
    burner = await cri.run(
      podId,
      containerConfig('burner', IMAGE, {
        command: ['sh', '-c', 'x=$(dd if=/dev/zero bs=1M count=40 2>/dev/null | tr "\\0" a); while true; do :; done'],
      }),
      pod,
    );
    let first = '0';
    await waitFor(
      'memory to grow',
      async () => {
        const s = (await call(rt(), rt().ContainerStats, { containerId: burner })).stats!;
        first = s.cpu!.usageCoreNanoSeconds!.value;
        return Number(s.memory!.workingSetBytes!.value) > 30 * 1024 * 1024;
      },
      20_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const s = (await call(rt(), rt().ContainerStats, { containerId: burner })).stats!;
    expect(BigInt(s.cpu!.usageCoreNanoSeconds!.value)).toBeGreaterThan(BigInt(first));
    expect(Number(s.cpu!.usageNanoCores!.value)).toBeGreaterThan(1e8); // a busy loop uses most of a core
    expect(s.attributes).toMatchObject({ id: burner, metadata: { name: 'burner' } });
    expect(Number(s.writableLayer!.inodesUsed!.value)).toBeGreaterThanOrEqual(0);
    const list = (await call(rt(), rt().ListContainerStats, { filter: { podSandboxId: podId } })).stats;
    expect(list.map((x) => x.attributes?.id)).toContain(burner);
    const podStats = (await call(rt(), rt().PodSandboxStats, { podSandboxId: podId })).stats!;
    expect(Number(podStats.linux!.memory!.workingSetBytes!.value)).toBeGreaterThan(30 * 1024 * 1024);
    expect(Number(podStats.linux!.process!.processCount!.value)).toBeGreaterThanOrEqual(1);
    expect(podStats.linux!.containers.map((c) => c.attributes?.id)).toContain(burner);
    await cri.stop(burner, 0);
  });

  it('answers zeroed stats for a created container and NOT_FOUND for an unknown one', async () => {
    const created = await cri.createContainer(podId, containerConfig('idle', IMAGE, { command: ['true'] }), pod);
    const s = (await call(rt(), rt().ContainerStats, { containerId: created })).stats!;
    expect(s.cpu!.usageCoreNanoSeconds!.value).toBe('0');
    expect(await codeOf(call(rt(), rt().ContainerStats, { containerId: 'f'.repeat(64) }))).toBe('NOT_FOUND');
    expect(await codeOf(call(rt(), rt().PodSandboxStats, { podSandboxId: 'f'.repeat(64) }))).toBe('NOT_FOUND');
    await cri.removeContainer(created);
  });

  it('streams the same items as the unary list RPCs, in batches', async () => {
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) => cri.createContainer(podId, containerConfig(`many-${i}`, IMAGE, { command: ['true'] }), pod)),
    );
    const unary = (await call(rt(), rt().ListContainers, {})).containers.map((c) => c.id).sort();
    const streamed = (await drain<{ containers: { id: string }[] }>(rt().StreamContainers({}))).flatMap((m) => m.containers.map((c) => c.id)).sort();
    expect(streamed).toEqual(unary);
    expect(streamed.length).toBeGreaterThanOrEqual(50);
    const pods = (await drain<{ podSandboxes: { id: string }[] }>(rt().StreamPodSandboxes({}))).flatMap((m) => m.podSandboxes.map((p) => p.id));
    expect(pods).toEqual((await call(rt(), rt().ListPodSandbox, {})).items.map((p) => p.id));
    const podStats = (await drain<{ podSandboxStats: unknown[] }>(rt().StreamPodSandboxStats({}))).flatMap((m) => m.podSandboxStats);
    expect(podStats).toHaveLength(1);
    for (const id of ids) await cri.removeContainer(id);
  });

  it('lists metric descriptors and pod metrics', async () => {
    const descriptors = (await call(rt(), rt().ListMetricDescriptors, {})).descriptors.map((d) => d.name);
    expect(descriptors).toEqual(
      expect.arrayContaining(['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_network_receive_bytes_total']),
    );
    const metrics = (await call(rt(), rt().ListPodSandboxMetrics, {})).podMetrics;
    expect(metrics.map((m) => m.podSandboxId)).toEqual([podId]);
    const streamed = (await drain<{ podSandboxMetrics: unknown[] }>(rt().StreamPodSandboxMetrics({}))).flatMap((m) => m.podSandboxMetrics);
    expect(streamed).toHaveLength(1);
  });

  it('serves Prometheus metrics that count pulls and failed calls', async () => {
    const scrape = async () => await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const value = (text: string, series: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${series} `))
          ?.split(' ')[1] ?? 0,
      );
    const before = await scrape();
    await cri.pull(IMAGE);
    await codeOf(cri.pull(`${env.openRegistry}/berth-test/busybox:missing`));
    await codeOf(call(rt(), rt().ContainerStatus, { containerId: 'f'.repeat(64) }));
    const after = await scrape();
    expect(value(after, 'berth_image_pulls_total{result="success"}')).toBe(value(before, 'berth_image_pulls_total{result="success"}') + 1);
    expect(value(after, 'berth_image_pulls_total{result="failure"}')).toBe(value(before, 'berth_image_pulls_total{result="failure"}') + 1);
    expect(value(after, 'berth_cri_operation_errors_total{method="ContainerStatus",code="NOT_FOUND"}')).toBe(1);
    for (const name of [
      'berth_cri_operations_total',
      'berth_cri_operation_duration_seconds_bucket',
      'berth_image_pull_bytes_total',
      'berth_image_pulls_in_flight',
      'berth_containers',
      'berth_pod_sandboxes',
      'berth_process_spawn_duration_seconds_bucket',
      'berth_process_resident_memory_bytes',
    ]) {
      expect(after).toContain(name);
    }
  });

  it('records pod resources, reports container filesystems, and refuses checkpoints honestly', async () => {
    await call(rt(), rt().UpdatePodSandboxResources, { podSandboxId: podId, resources: { memoryLimitInBytes: 1 << 30 } });
    const info = JSON.parse((await call(rt(), rt().PodSandboxStatus, { podSandboxId: podId, verbose: true })).info.info!) as {
      resources: { resources: { memoryLimitInBytes: string } };
    };
    expect(info.resources.resources.memoryLimitInBytes).toBe(String(1 << 30));
    const fs = await call(berth.client.image, berth.client.image.ImageFsInfo, {});
    expect(fs.containerFilesystems).toHaveLength(1);
    const live = await cri.run(podId, containerConfig('ckpt', IMAGE, { command: ['sleep', '60'] }), pod);
    const err = await call(rt(), rt().CheckpointContainer, { containerId: live, location: path.join(berth.dir, 'ck.tar') }).catch(
      (e: { code: number; details: string }) => e,
    );
    expect((err as { details: string }).details).toMatch(/CRIU/);
    expect(await codeOf(call(rt(), rt().CheckpointContainer, { containerId: live, location: '/x' }))).toBe('FAILED_PRECONDITION');
  });
});
