import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type V1Pod, loadYaml } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeletSim, type SimulatedPod } from './kubelet-sim/kubelet.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { removeIdlePortmapChains, sh } from './lib/net-host.js';
import { freePort, waitFor } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const BRIDGE = 'berthe2e1';

async function manifest(file: string, vars: Record<string, string | number>): Promise<V1Pod> {
  let text = await readFile(new URL(`./kubelet-sim/manifests/${file}`, import.meta.url), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`\${${k}}`, String(v));
  return loadYaml<V1Pod>(text);
}

describe('ordinary Pod manifests through a kubelet-shaped client', () => {
  let berth: BerthDaemon;
  let kubelet: KubeletSim;
  const running: SimulatedPod[] = [];

  beforeAll(async () => {
    const base = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    await base.stop();
    const cniDir = path.join(base.dir, 'cni', 'bridge.d');
    await mkdir(cniDir, { recursive: true });
    await writeFile(
      path.join(cniDir, '10-bridge.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'berth-e2e-kubelet',
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false,
            ipam: { type: 'host-local', dataDir: path.join(base.dir, 'cni', 'ipam'), ranges: [[{ subnet: '10.91.0.0/24' }]], routes: [] },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, await freePort()),
      config: testBerthConf(env),
      reuse: { dir: base.dir },
      extraArgs: ['--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni'],
    });
    kubelet = new KubeletSim(berth.client, path.join(berth.dir, 'var-log-pods'), path.join(berth.dir, 'var-lib-kubelet-pods'));
  });
  afterAll(async () => {
    for (const p of running) await kubelet.deletePod(p).catch(() => undefined);
    await berth.destroy();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => '');
    await removeIdlePortmapChains();
  });

  const logOf = async (p: SimulatedPod, container: string, restart = 0) =>
    await readFile(path.join(p.sandbox.logDirectory!, container, `${restart}.log`), 'utf8').catch(() => '');

  it('serves a web server on its host port once its readiness probe passes', async () => {
    const hostPort = 12070;
    const pod = await kubelet.runPod(await manifest('web.yaml', { IMAGE, HOST_PORT: hostPort }));
    running.push(pod);
    await waitFor('readiness', async () => pod.containers.get('httpd')?.ready === true, 20_000);
    expect(await (await fetch(`http://127.0.0.1:${hostPort}/`)).text()).toBe('served by berth\n');
    const status = (await call(berth.client.runtime, berth.client.runtime.ContainerStatus, { containerId: pod.containers.get('httpd')!.id })).status!;
    expect(status.resources?.linux?.memoryLimitInBytes).toBe(String(64 * 1024 * 1024));
    expect(status.logPath).toBe(path.join(pod.sandbox.logDirectory!, 'httpd', '0.log'));
    expect(pod.sandbox.logDirectory).toMatch(/\/shop_web_[0-9a-f-]{36}$/);
  });

  it('runs init containers first, sharing an emptyDir with the app', async () => {
    const pod = await kubelet.runPod(await manifest('init.yaml', { IMAGE }));
    running.push(pod);
    expect(pod.phase).toBe('Running');
    await waitFor('the app to read the message', async () => (await logOf(pod, 'main')).includes('prepared by init'));
    expect(await logOf(pod, 'prepare')).toBe('');
  });

  it('shares one process namespace between the containers of a pod', async () => {
    const pod = await kubelet.runPod(await manifest('shared-pid.yaml', { IMAGE }));
    running.push(pod);
    const ps = await call(berth.client.runtime, berth.client.runtime.ExecSync, {
      containerId: pod.containers.get('app')!.id,
      cmd: ['ps', '-o', 'args'],
      timeout: 5,
    });
    expect(ps.stdout.toString()).toContain('sleep 702');
  });

  it('reports a failing job with its exit code and termination message (restartPolicy Never)', async () => {
    const pod = await kubelet.runPod(await manifest('job.yaml', { IMAGE, RESTART_POLICY: 'Never' }));
    running.push(pod);
    await waitFor('the job to fail', async () => pod.phase === 'Failed');
    expect(pod.containers.get('task')!.status).toMatchObject({ exitCode: 3, reason: 'Error', message: 'disk full\n' });
    expect(pod.containers.get('task')!.restarts).toBe(0);
  });

  it('restarts a failing container under restartPolicy OnFailure, each attempt with its own log', async () => {
    const pod = await kubelet.runPod(await manifest('job.yaml', { IMAGE, RESTART_POLICY: 'OnFailure' }));
    running.push(pod);
    await waitFor('a restart', async () => (pod.containers.get('task')?.restarts ?? 0) >= 1);
    const listed = (await call(berth.client.runtime, berth.client.runtime.ListContainers, { filter: { podSandboxId: pod.sandboxId } })).containers;
    expect(listed.map((c) => c.metadata?.attempt).sort()).toEqual(expect.arrayContaining([0, 1]));
  });

  // kubectl delete, then kubectl delete --grace-period=0 --force: the
  // kubelet sends a second StopContainer with a shorter timeout, and may
  // remove the container while the first stop still waits.
  it('cuts a pending graceful stop short, and force-removes, answering status meanwhile', async () => {
    const pod = await kubelet.runPod(await manifest('stubborn.yaml', { IMAGE }));
    pod.stopSupervising(); // being deleted: the kubelet restarts nothing
    const rt = berth.client.runtime;
    const first = pod.containers.get('first')!.id;
    const second = pod.containers.get('second')!.id;
    const slowFirst = call(rt, rt.StopContainer, { containerId: first, timeout: 3600 }, 120_000);
    const slowSecond = call(rt, rt.StopContainer, { containerId: second, timeout: 3600 }, 120_000);
    await new Promise((r) => setTimeout(r, 500));
    const polled = Date.now();
    expect((await call(rt, rt.ContainerStatus, { containerId: first })).status?.state).toBe('CONTAINER_RUNNING');
    expect(Date.now() - polled).toBeLessThan(1000);
    const cut = Date.now();
    await call(rt, rt.StopContainer, { containerId: first, timeout: 0 }, 30_000);
    await slowFirst;
    expect(Date.now() - cut).toBeLessThan(10_000);
    expect((await call(rt, rt.ContainerStatus, { containerId: first })).status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137 });
    const forced = Date.now();
    await call(rt, rt.RemoveContainer, { containerId: second }, 30_000);
    await slowSecond;
    expect(Date.now() - forced).toBeLessThan(10_000);
    expect(await codeOf(call(rt, rt.ContainerStatus, { containerId: second }))).toBe('NOT_FOUND');
    pod.containers.delete('second');
    await kubelet.deletePod(pod);
  });

  it('deletes pods gracefully, leaving nothing behind', async () => {
    for (const p of running.splice(0)) await kubelet.deletePod(p);
    expect((await call(berth.client.runtime, berth.client.runtime.ListPodSandbox, {})).items).toEqual([]);
    expect((await call(berth.client.runtime, berth.client.runtime.ListContainers, {})).containers).toEqual([]);
  });
});
