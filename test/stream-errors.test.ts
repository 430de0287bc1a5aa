import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/schema.js';
import { RuntimeError } from '../src/errors.js';
import type { ImageService } from '../src/image/image-service.js';
import { silentLogger } from '../src/log.js';
import { serverStream } from '../src/server/adapter.js';
import type { Deps } from '../src/server/deps.js';
import { type CriGrpc, loadCriProto } from '../src/server/proto.js';
import { buildServices } from '../src/server/service.js';

/**
 * Server-streaming RPCs over a real gRPC connection: a handler that fails
 * must end the stream with its status at once, as a unary call answers.
 */
let proto: CriGrpc;
let dir: string;
let server: grpc.Server;
let ready = false;
let failing = false;
let target: string;

beforeAll(async () => {
  proto = await loadCriProto();
  dir = await mkdtemp(path.join(tmpdir(), 'berth-stream-'));
  const deps = {
    config: defaultConfig(),
    log: silentLogger(),
    images: {} as ImageService,
    lifecycle: {
      get ready() {
        return ready;
      },
    },
  } as Deps;
  const { runtime, image } = buildServices(proto, deps);
  // One stream whose handler fails after sending a first message.
  runtime.StreamContainers = serverStream(deps, 'StreamContainers', async (_ctx, _req, send) => {
    if (!failing) throw new RuntimeError('not-found', 'nothing here');
    await send({ containers: [] });
    throw new RuntimeError('invalid-argument', 'bad filter');
  });
  server = new grpc.Server();
  server.addService(proto.runtime.v1.RuntimeService.service, runtime);
  server.addService(proto.runtime.v1.ImageService.service, image);
  target = `unix://${path.join(dir, 'cri.sock')}`;
  await new Promise<void>((resolve, reject) => server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
});

afterAll(async () => {
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

function streamOutcome(service: 'runtime' | 'image', method: string): Promise<{ code: number; messages: number; ms: number }> {
  const Client = service === 'runtime' ? proto.runtime.v1.RuntimeService : proto.runtime.v1.ImageService;
  const client = new Client(target, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: object, opts: grpc.CallOptions) => grpc.ClientReadableStream<unknown>
  >;
  const started = Date.now();
  return new Promise((resolve) => {
    let messages = 0;
    const call = client[method]!({}, { deadline: Date.now() + 10_000 });
    call.on('data', () => messages++);
    call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, messages, ms: Date.now() - started }));
    call.on('end', () => resolve({ code: grpc.status.OK, messages, ms: Date.now() - started }));
  }).finally(() => (client as unknown as grpc.Client).close()) as Promise<{ code: number; messages: number; ms: number }>;
}

const streamMethods = (s: grpc.ServiceDefinition) =>
  Object.entries(s)
    .filter(([, m]) => m.responseStream)
    .map(([name]) => name);

describe('server-streaming RPCs', () => {
  it('end every stream with UNAVAILABLE while berth is starting, not at the deadline', async () => {
    ready = false;
    const methods = [
      ...streamMethods(proto.runtime.v1.RuntimeService.service).map((m) => ['runtime', m] as const),
      ...streamMethods(proto.runtime.v1.ImageService.service).map((m) => ['image', m] as const),
    ];
    expect(methods.map(([, m]) => m).sort()).toEqual([
      'GetContainerEvents',
      'StreamContainerStats',
      'StreamContainers',
      'StreamImages',
      'StreamPodSandboxMetrics',
      'StreamPodSandboxStats',
      'StreamPodSandboxes',
    ]);
    for (const [service, method] of methods) {
      const outcome = await streamOutcome(service, method);
      expect(outcome.code, method).toBe(grpc.status.UNAVAILABLE);
      expect(outcome.ms, method).toBeLessThan(5000);
    }
  });

  it('ends a stream with the mapped status of its handler, also after messages were sent', async () => {
    ready = true;
    failing = false;
    expect(await streamOutcome('runtime', 'StreamContainers')).toMatchObject({ code: grpc.status.NOT_FOUND, messages: 0 });
    failing = true;
    expect(await streamOutcome('runtime', 'StreamContainers')).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, messages: 1 });
  });
});
