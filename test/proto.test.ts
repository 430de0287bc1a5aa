import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { loadCriProto } from '../src/server/proto.js';

type Codec = {
  requestSerialize(v: object): Buffer;
  requestDeserialize(b: Buffer): Record<string, unknown>;
  responseSerialize(v: object): Buffer;
  responseDeserialize(b: Buffer): Record<string, unknown>;
};

describe('the CRI message codecs', () => {
  it('speak the wire format of api.proto itself: field numbers and types as parsed from the file', async () => {
    const proto = await loadCriProto();
    const codec = proto.runtime.v1.RuntimeService.service.ContainerStatus as unknown as Codec;
    const parsed = protobuf.loadSync('proto/cri/api.proto').lookupType('runtime.v1.ContainerStatusResponse');
    const wire = codec.responseSerialize({
      status: { id: 'c1', state: 'CONTAINER_EXITED', createdAt: '1795883816613123456', exitCode: 137, labels: { a: 'b' } },
      info: { k: 'v' },
    });
    const decoded = parsed.toObject(parsed.decode(wire), { longs: String, enums: String }) as { status: Record<string, unknown>; info: Record<string, string> };
    expect(decoded.status).toMatchObject({ id: 'c1', state: 'CONTAINER_EXITED', createdAt: '1795883816613123456', exitCode: 137, labels: { a: 'b' } });
    expect(decoded.info).toEqual({ k: 'v' });
  });

  it('decode int64 as exact decimal strings, enums as names, bytes as Buffers and absent fields as defaults', async () => {
    const proto = await loadCriProto();
    const create = proto.runtime.v1.RuntimeService.service.CreateContainer as unknown as Codec;
    const req = create.requestDeserialize(
      create.requestSerialize({
        podSandboxId: 'p',
        config: {
          metadata: { name: 'n' },
          envs: [{ key: 'B', value: Buffer.from([0, 255]) }],
          linux: { resources: { memoryLimitInBytes: '9007199254740993' } },
        },
      }),
    ) as {
      podSandboxId: string;
      config: {
        metadata: { attempt: number };
        envs: { value: Buffer }[];
        linux: { resources: { memoryLimitInBytes: string; cpuShares: string } };
        tty: boolean;
        image: unknown;
      };
    };
    expect(req.config.linux.resources.memoryLimitInBytes).toBe('9007199254740993');
    expect(req.config.linux.resources.cpuShares).toBe('0');
    expect(Buffer.isBuffer(req.config.envs[0]!.value)).toBe(true);
    expect([...req.config.envs[0]!.value]).toEqual([0, 255]);
    expect(req.config.metadata.attempt).toBe(0);
    expect(req.config.tty).toBe(false);
    expect(req.config.image).toBeNull();
    const list = proto.runtime.v1.RuntimeService.service.ListContainers as unknown as Codec;
    expect(list.requestDeserialize(list.requestSerialize({ filter: { state: { state: 'CONTAINER_RUNNING' } } }))).toMatchObject({
      filter: { state: { state: 'CONTAINER_RUNNING' } },
    });
  });

  it('serve runtime.v1alpha2 with v1 messages: a v1alpha2 request arrives as its v1 twin with v1 defaults, without what v1alpha2 lacks', async () => {
    const proto = await loadCriProto();
    // Bytes with a field v1 has and v1alpha2 does not (ContainerConfig.cdi_devices):
    // a v1alpha2 server never sees it.
    const v1Type = protobuf.loadSync('proto/cri/api.proto').lookupType('runtime.v1.CreateContainerRequest');
    const withCdi = Buffer.from(
      v1Type
        .encode(
          v1Type.fromObject({
            podSandboxId: 'p',
            config: { metadata: { name: 'n' }, envs: [{ key: 'K', value: Buffer.from('v\u00e9') }], CDIDevices: [{ name: 'x' }] },
          }),
        )
        .finish(),
    );
    const codec = proto.runtime.v1alpha2.RuntimeService.service.CreateContainer as unknown as Codec;
    const req = codec.requestDeserialize(withCdi) as {
      podSandboxId: string;
      config: { envs: { key: string; value: Buffer }[]; CDIDevices: unknown[]; linux: unknown; metadata: { name: string } };
    };
    expect(req.podSandboxId).toBe('p');
    expect(req.config.metadata.name).toBe('n');
    expect(req.config.envs[0]!.value.toString('utf8')).toBe('vé');
    expect(req.config.CDIDevices).toEqual([]);
    expect(req.config.linux).toBeNull();
    // The v1 codec, given the same bytes, does see the v1 field.
    const v1 = proto.runtime.v1.RuntimeService.service.CreateContainer as unknown as Codec;
    expect((v1.requestDeserialize(withCdi) as { config: { CDIDevices: unknown[] } }).config.CDIDevices).toHaveLength(1);
  });

  it('answer a v1alpha2 caller in bytes it decodes with its own proto', async () => {
    const proto = await loadCriProto();
    const a2 = protobuf.loadSync('proto/cri/v1alpha2.proto').lookupType('runtime.v1alpha2.ContainerStatusResponse');
    const codec = proto.runtime.v1alpha2.RuntimeService.service.ContainerStatus as unknown as Codec;
    const wire = codec.responseSerialize({
      status: {
        id: 'c1',
        state: 'CONTAINER_RUNNING',
        createdAt: '1',
        image: { image: 'busybox', userSpecifiedImage: 'busybox' },
        user: { linux: { uid: '0' } },
      },
      info: {},
    });
    const decoded = a2.toObject(a2.decode(wire), { longs: String, enums: String }) as { status: Record<string, unknown> };
    expect(decoded.status).toMatchObject({ id: 'c1', state: 'CONTAINER_RUNNING', createdAt: '1', image: { image: 'busybox' } });
    expect(Object.keys(proto.runtime.v1alpha2.RuntimeService.service)).not.toContain('GetContainerEvents');
    expect(Object.keys(proto.runtime.v1alpha2.RuntimeService.service)).toContain('ReopenContainerLog');
  });
});
