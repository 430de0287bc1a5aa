import type * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType } from '../generated/api.js';
import { serverStream, unary, unimplemented } from './adapter.js';
import type { Deps } from './deps.js';
import { imageFsInfo } from './image/image-fs-info.js';
import { listImages } from './image/image-list.js';
import { pullImage } from './image/image-pull.js';
import { removeImage } from './image/image-remove.js';
import { imageStatus } from './image/image-status.js';
import { streamImages } from './image/images-stream.js';
import { attach } from './runtime/attach.js';
import { execSync } from './runtime/container-exec-sync.js';
import { exec } from './runtime/exec.js';
import { portForward } from './runtime/port-forward.js';
import { containerStatus } from './runtime/container-status.js';
import { createContainer } from './runtime/container-create.js';
import { listContainers } from './runtime/container-list.js';
import { removeContainer } from './runtime/container-remove.js';
import { reopenContainerLog } from './runtime/container-reopen-log.js';
import { startContainer } from './runtime/container-start.js';
import { stopContainer } from './runtime/container-stop.js';
import { updateContainerResources } from './runtime/container-update-resources.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { listPodSandbox } from './runtime/sandbox-list.js';
import { removePodSandbox } from './runtime/sandbox-remove.js';
import { runPodSandbox } from './runtime/sandbox-run.js';
import { podSandboxStatus } from './runtime/sandbox-status.js';
import { stopPodSandbox } from './runtime/sandbox-stop.js';
import { status } from './runtime/status.js';
import { updateRuntimeConfig } from './runtime/update-runtime-config.js';
import { version } from './runtime/version.js';

type Implementation = Record<string, grpc.UntypedHandleCall>;

/**
 * Maps every RPC of both CRI services to its handler. Methods without one
 * answer UNIMPLEMENTED; the method list comes from the proto, so none can
 * be forgotten.
 */
export function buildServices(proto: ProtoGrpcType, deps: Deps): { runtime: Implementation; image: Implementation } {
  const runtime: Implementation = {
    Version: unary(deps, 'Version', version),
    Status: unary(deps, 'Status', status),
    RuntimeConfig: unary(deps, 'RuntimeConfig', runtimeConfig),
    UpdateRuntimeConfig: unary(deps, 'UpdateRuntimeConfig', updateRuntimeConfig),
    RunPodSandbox: unary(deps, 'RunPodSandbox', runPodSandbox),
    StopPodSandbox: unary(deps, 'StopPodSandbox', stopPodSandbox),
    RemovePodSandbox: unary(deps, 'RemovePodSandbox', removePodSandbox),
    PodSandboxStatus: unary(deps, 'PodSandboxStatus', podSandboxStatus),
    ListPodSandbox: unary(deps, 'ListPodSandbox', listPodSandbox),
    CreateContainer: unary(deps, 'CreateContainer', createContainer),
    StartContainer: unary(deps, 'StartContainer', startContainer),
    StopContainer: unary(deps, 'StopContainer', stopContainer),
    RemoveContainer: unary(deps, 'RemoveContainer', removeContainer),
    ContainerStatus: unary(deps, 'ContainerStatus', containerStatus),
    ListContainers: unary(deps, 'ListContainers', listContainers),
    ExecSync: unary(deps, 'ExecSync', execSync),
    UpdateContainerResources: unary(deps, 'UpdateContainerResources', updateContainerResources),
    ReopenContainerLog: unary(deps, 'ReopenContainerLog', reopenContainerLog),
    Exec: unary(deps, 'Exec', exec),
    Attach: unary(deps, 'Attach', attach),
    PortForward: unary(deps, 'PortForward', portForward),
  };
  const image: Implementation = {
    PullImage: unary(deps, 'PullImage', pullImage),
    ListImages: unary(deps, 'ListImages', listImages),
    ImageStatus: unary(deps, 'ImageStatus', imageStatus),
    RemoveImage: unary(deps, 'RemoveImage', removeImage),
    ImageFsInfo: unary(deps, 'ImageFsInfo', imageFsInfo),
    StreamImages: serverStream(deps, 'StreamImages', streamImages),
  };
  fillUnimplemented(proto.runtime.v1.RuntimeService.service, runtime, deps);
  fillUnimplemented(proto.runtime.v1.ImageService.service, image, deps);
  return { runtime, image };
}

function fillUnimplemented(definition: grpc.ServiceDefinition, impl: Implementation, deps: Deps): void {
  for (const [name, method] of Object.entries(definition)) {
    if (impl[name]) continue;
    impl[name] = method.responseStream
      ? serverStream(deps, name, unimplemented(name) as never)
      : unary(deps, name, unimplemented(name));
  }
}
