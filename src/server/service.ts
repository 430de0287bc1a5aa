import type * as grpc from '@grpc/grpc-js';
import type { CriGrpc } from './proto.js';
import { serverStream, unary, unimplemented } from './adapter.js';
import type { Deps } from './deps.js';
import { imageFsInfo } from './image/image-fs-info.js';
import { listImages } from './image/image-list.js';
import { pullImage } from './image/image-pull.js';
import { removeImage } from './image/image-remove.js';
import { imageStatus } from './image/image-status.js';
import { streamImages } from './image/images-stream.js';
import { attach } from './runtime/attach.js';
import { checkpointContainer } from './runtime/checkpoint-container.js';
import { getContainerEvents } from './runtime/container-events.js';
import { containerStats } from './runtime/container-stats.js';
import { listContainerStats } from './runtime/container-stats-list.js';
import { streamContainerStats } from './runtime/container-stats-stream.js';
import { streamContainers } from './runtime/containers-stream.js';
import { listMetricDescriptors } from './runtime/metric-descriptors-list.js';
import { listPodSandboxMetrics } from './runtime/sandbox-metrics-list.js';
import { streamPodSandboxMetrics } from './runtime/sandbox-metrics-stream.js';
import { podSandboxStats } from './runtime/sandbox-stats.js';
import { listPodSandboxStats } from './runtime/sandbox-stats-list.js';
import { streamPodSandboxStats } from './runtime/sandbox-stats-stream.js';
import { updatePodSandboxResources } from './runtime/sandbox-update-resources.js';
import { streamPodSandboxes } from './runtime/sandboxes-stream.js';
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
import { version, versionV1alpha2 } from './runtime/version.js';

type Implementation = Record<string, grpc.UntypedHandleCall>;

/**
 * Maps every RPC of both CRI services to its handler. Methods without one
 * answer UNIMPLEMENTED; the method list comes from the proto, so none can
 * be forgotten.
 */
export function buildServices(
  proto: CriGrpc,
  deps: Deps,
): { runtime: Implementation; image: Implementation; v1alpha2Runtime: Implementation; missing: string[] } {
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
    ContainerStats: unary(deps, 'ContainerStats', containerStats),
    ListContainerStats: unary(deps, 'ListContainerStats', listContainerStats),
    PodSandboxStats: unary(deps, 'PodSandboxStats', podSandboxStats),
    ListPodSandboxStats: unary(deps, 'ListPodSandboxStats', listPodSandboxStats),
    ListMetricDescriptors: unary(deps, 'ListMetricDescriptors', listMetricDescriptors),
    ListPodSandboxMetrics: unary(deps, 'ListPodSandboxMetrics', listPodSandboxMetrics),
    UpdatePodSandboxResources: unary(deps, 'UpdatePodSandboxResources', updatePodSandboxResources),
    CheckpointContainer: unary(deps, 'CheckpointContainer', checkpointContainer),
    GetContainerEvents: serverStream(deps, 'GetContainerEvents', getContainerEvents),
    StreamPodSandboxes: serverStream(deps, 'StreamPodSandboxes', streamPodSandboxes),
    StreamContainers: serverStream(deps, 'StreamContainers', streamContainers),
    StreamContainerStats: serverStream(deps, 'StreamContainerStats', streamContainerStats),
    StreamPodSandboxStats: serverStream(deps, 'StreamPodSandboxStats', streamPodSandboxStats),
    StreamPodSandboxMetrics: serverStream(deps, 'StreamPodSandboxMetrics', streamPodSandboxMetrics),
  };
  const image: Implementation = {
    PullImage: unary(deps, 'PullImage', pullImage),
    ListImages: unary(deps, 'ListImages', listImages),
    ImageStatus: unary(deps, 'ImageStatus', imageStatus),
    RemoveImage: unary(deps, 'RemoveImage', removeImage),
    ImageFsInfo: unary(deps, 'ImageFsInfo', imageFsInfo),
    StreamImages: serverStream(deps, 'StreamImages', streamImages),
  };
  const missing = [
    ...fillUnimplemented(proto.runtime.v1.RuntimeService.service, runtime, deps),
    ...fillUnimplemented(proto.runtime.v1.ImageService.service, image, deps),
  ];
  // runtime.v1alpha2's RPCs are a part of v1's, served by the same handlers;
  // only Version names the API the caller speaks.
  const v1alpha2Runtime: Implementation = { ...runtime, Version: unary(deps, 'Version', versionV1alpha2) };
  return { runtime, image, v1alpha2Runtime, missing };
}

/** Gives every RPC without a handler the UNIMPLEMENTED answer; returns their names. */
function fillUnimplemented(definition: grpc.ServiceDefinition, impl: Implementation, deps: Deps): string[] {
  const missing: string[] = [];
  for (const [name, method] of Object.entries(definition)) {
    if (impl[name]) continue;
    missing.push(name);
    impl[name] = method.responseStream ? serverStream(deps, name, unimplemented(name) as never) : unary(deps, name, unimplemented(name));
  }
  return missing;
}
