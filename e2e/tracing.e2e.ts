import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { type OtlpReceiver, startOtlpReceiver } from './lib/otlp-receiver.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

/**
 * Traces from a real daemon to a collector the test runs: the life cycle
 * of a pod and a container, each CRI call a span with its work as child
 * spans (image pull and layers, conmon create, runc start, exec), and a
 * call the client sends with a W3C `traceparent` continuing that trace.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;

describe('tracing over OTLP/HTTP', () => {
  let receiver: OtlpReceiver;
  let berth: BerthDaemon;
  let cri: Cri;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), extraArgs: ['--tracing-endpoint', receiver.endpoint] });
    cri = new Cri(berth);
  });

  afterAll(async () => {
    await berth?.destroy();
    await receiver?.close();
  });

  it('sends a span for every CRI call, with the work it caused as children', async () => {
    await cri.pull(IMAGE);
    const pod = podConfig('traced', path.join(berth.dir, 'logs', 'traced'));
    const podId = await cri.runPod(pod);
    const id = await cri.run(podId, containerConfig('traced', IMAGE, { command: ['sleep', '600'] }), pod);
    await cri.exec(id, ['true']);
    await cri.removePod(podId);
    const named = (name: string) => receiver.spans.find((s) => s.name === name);
    await waitFor('the spans', async () => named('runtime.v1.RuntimeService/StartContainer') !== undefined && named('runc.exec') !== undefined, 20_000);
    const pull = named('runtime.v1.ImageService/PullImage')!;
    expect(pull.attributes).toMatchObject({ 'rpc.system': 'grpc', 'container.image.name': IMAGE });
    expect(pull.service).toBe('berth');
    const imagePull = named('image.pull')!;
    expect(imagePull.parentSpanId).toBe(pull.spanId);
    expect(receiver.spans.filter((s) => s.name === 'image.layer').every((s) => s.parentSpanId === imagePull.spanId)).toBe(true);
    const run = named('runtime.v1.RuntimeService/RunPodSandbox')!;
    expect(run).toBeDefined();
    const create = named('runtime.v1.RuntimeService/CreateContainer')!;
    expect(create.attributes['k8s.pod.sandbox.id']).toBe(podId);
    expect(named('conmon.create')!.parentSpanId).toBe(create.spanId); // the launch that follows the answer
    const start = named('runtime.v1.RuntimeService/StartContainer')!;
    expect(start.attributes['k8s.container.id']).toBe(id);
    expect(named('runc.start')!.parentSpanId).toBe(start.spanId);
    expect(named('runc.exec')!.parentSpanId).toBe(named('runtime.v1.RuntimeService/ExecSync')!.spanId);
  });

  it("continues the trace the client's traceparent names", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`);
    await new Promise<void>((resolve, reject) => {
      berth.client.runtime.Version({ version: 'v1' }, metadata, (err: Error | null) => (err ? reject(err) : resolve()));
    });
    await waitFor('the span', async () => receiver.spans.some((s) => s.traceId === traceId), 20_000);
    expect(receiver.spans.find((s) => s.traceId === traceId)).toMatchObject({ name: 'runtime.v1.RuntimeService/Version', parentSpanId: '00f067aa0ba902b7' });
  });
});
