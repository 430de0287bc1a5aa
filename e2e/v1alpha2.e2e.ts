import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

/**
 * CRI runtime.v1alpha2 on berth's one socket, as kubelets 1.20-1.25 speak
 * it: messages built from proto/cri/v1alpha2.proto alone (never from
 * berth's v1 codecs), sent as raw bytes, so what the daemon answers is
 * what a v1alpha2 client decodes.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const A2 = protobuf.loadSync('proto/cri/v1alpha2.proto');

interface RawResult {
  code: number;
  details: string;
  bytes?: Buffer;
}

function rawCall(client: grpc.Client, path: string, body: Buffer): Promise<RawResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 60_000 },
      (err, res) => resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', bytes: res }),
    );
  });
}

describe('CRI runtime.v1alpha2 beside v1', () => {
  let berth: BerthDaemon;
  let client: grpc.Client;

  /** A v1alpha2 call: request and answer through v1alpha2's own message types. */
  async function a2(service: 'RuntimeService' | 'ImageService', method: string, request: object): Promise<Record<string, unknown>> {
    const req = A2.lookupType(`runtime.v1alpha2.${method}Request`);
    const res = A2.lookupType(`runtime.v1alpha2.${method}Response`);
    const out = await rawCall(client, `/runtime.v1alpha2.${service}/${method}`, Buffer.from(req.encode(req.fromObject(request)).finish()));
    if (out.code !== 0) throw Object.assign(new Error(out.details), out);
    return res.toObject(res.decode(out.bytes!), { longs: String, enums: String, defaults: true }) as Record<string, unknown>;
  }

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    client = new grpc.Client(`unix://${berth.socket}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await berth.destroy();
  });

  it('answers Version with v1alpha2 to a v1alpha2 caller and v1 to a v1 caller', async () => {
    expect(await a2('RuntimeService', 'Version', { version: '0.1.0' })).toMatchObject({
      version: '0.1.0',
      runtimeName: 'berth',
      runtimeApiVersion: 'v1alpha2',
    });
    expect(await call(berth.client.runtime, berth.client.runtime.Version, {})).toMatchObject({ runtimeApiVersion: 'v1' });
  });

  it('pulls, runs a pod and a container, execs, lists and removes them over v1alpha2', async () => {
    const pulled = await a2('ImageService', 'PullImage', { image: { image: IMAGE } });
    expect(pulled.imageRef).toMatch(/^sha256:|@sha256:/);
    const pod = podConfig('alpha2', `${berth.dir}/logs/alpha2`);
    const { podSandboxId } = (await a2('RuntimeService', 'RunPodSandbox', { config: pod })) as { podSandboxId: string };
    try {
      const config = containerConfig('c', IMAGE, { command: ['sleep', '600'], envs: [{ key: 'GREETING', value: 'grüß' }] });
      const { containerId } = (await a2('RuntimeService', 'CreateContainer', { podSandboxId, config, sandboxConfig: pod })) as { containerId: string };
      await a2('RuntimeService', 'StartContainer', { containerId });
      const exec = (await a2('RuntimeService', 'ExecSync', { containerId, cmd: ['sh', '-c', 'echo $GREETING'], timeout: 10 })) as {
        stdout: Uint8Array;
        exitCode: number;
      };
      expect(Buffer.from(exec.stdout).toString()).toBe('grüß\n');
      const status = (await a2('RuntimeService', 'ContainerStatus', { containerId })) as { status: { state: string; image: { image: string } } };
      expect(status.status).toMatchObject({ state: 'CONTAINER_RUNNING', image: { image: IMAGE } });
      const listed = (await a2('RuntimeService', 'ListContainers', { filter: { podSandboxId } })) as { containers: { id: string }[] };
      expect(listed.containers.map((c) => c.id)).toEqual([containerId]);
      const pods = (await a2('RuntimeService', 'ListPodSandbox', {})) as { items: { id: string; state: string }[] };
      expect(pods.items).toContainEqual(expect.objectContaining({ id: podSandboxId, state: 'SANDBOX_READY' }));
      const stats = (await a2('RuntimeService', 'ContainerStats', { containerId })) as { stats: { attributes: { id: string } } };
      expect(stats.stats.attributes.id).toBe(containerId);
      await a2('RuntimeService', 'StopContainer', { containerId, timeout: 0 });
      await a2('RuntimeService', 'RemoveContainer', { containerId });
    } finally {
      await a2('RuntimeService', 'StopPodSandbox', { podSandboxId });
      await a2('RuntimeService', 'RemovePodSandbox', { podSandboxId });
    }
    const left = (await call(berth.client.runtime, berth.client.runtime.ListPodSandbox, {})).items;
    expect(left.map((p) => p.id)).not.toContain(podSandboxId);
  });

  it('answers bad bytes, unknown fields and v1-only RPCs as v1 answers their twins', async () => {
    const cases: [string, Buffer][] = [
      ['a wrong wire type', Buffer.from([0x0a, 0x05, 0x08])], // ContainerStatusRequest.container_id, truncated
      ['an unknown field only', Buffer.from([0xf8, 0x3f, 0x01])], // field 1023, varint 1
      ['nothing', Buffer.alloc(0)],
    ];
    for (const [what, body] of cases) {
      const v1 = await rawCall(client, '/runtime.v1.RuntimeService/ContainerStatus', body);
      const alpha = await rawCall(client, '/runtime.v1alpha2.RuntimeService/ContainerStatus', body);
      expect({ code: alpha.code, details: alpha.details }, what).toEqual({ code: v1.code, details: v1.details });
      expect(v1.code, what).not.toBe(0);
    }
    expect((await rawCall(client, '/runtime.v1alpha2.RuntimeService/GetContainerEvents', Buffer.alloc(0))).code).toBe(grpc.status.UNIMPLEMENTED);
  });
});
