/**
 * The request berth makes for a pod's infra container, the one that holds
 * a PID namespace shared by the pod's containers: the pause image's own
 * command, a read-only root, the pod's network and IPC namespaces, and
 * SIGKILL as its stop signal (pause has nothing to shut down cleanly).
 */

import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig.js';

export function infraContainerConfig(image: string, attempt: number): ContainerConfig__Output {
  return {
    metadata: { name: 'POD', attempt },
    image: { image },
    command: [],
    args: [],
    workingDir: '',
    envs: [],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    logPath: '',
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: { resources: null, securityContext: { readonlyRootfs: true, namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' } } },
    windows: null,
    CDIDevices: [],
    stopSignal: 'SIGKILL',
  } as unknown as ContainerConfig__Output;
}
