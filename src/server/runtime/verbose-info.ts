import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerRecord } from '../../container/container-service.js';
import type { Spec } from '../../oci/spec-types.js';
import type { SandboxRecord } from '../../sandbox/sandbox-service.js';
import type { CallContext } from '../deps.js';

/**
 * The `info` of verbose ContainerStatus and PodSandboxStatus, with the keys
 * and shapes containerd's CRI plugin uses (what `crictl inspect` prints and
 * scripts read with `jq .info.runtimeSpec...`), plus berth's own paths.
 */

/** The OCI spec berth wrote for the container, or null once its bundle is gone. */
async function runtimeSpecOf(bundle: string): Promise<Spec | null> {
  try {
    return JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as Spec;
  } catch {
    return null;
  }
}

function runtimeOptions(ctx: CallContext, handler: string) {
  const runtime = ctx.deps.containers.runtimeFor(handler);
  return { binaryName: runtime.handler.path, root: runtime.handler.root, systemdCgroup: ctx.deps.config.runtime.cgroup_manager === 'systemd' };
}

export async function containerInfo(ctx: CallContext, record: ContainerRecord): Promise<Record<string, unknown>> {
  const { meta, status } = record;
  const runtimeSpec = await runtimeSpecOf(meta.bundle);
  return {
    sandboxID: meta.sandboxId,
    pid: status.pid ?? 0,
    removing: false,
    snapshotKey: meta.id,
    snapshotter: 'overlayfs',
    runtimeType: ctx.deps.config.runtimes[meta.runtimeHandler]?.runtime_type ?? 'oci',
    runtimeOptions: runtimeOptions(ctx, meta.runtimeHandler),
    // The parts of the CRI config berth keeps with the container.
    config: {
      metadata: meta.metadata,
      image: { image: meta.image },
      labels: meta.labels,
      annotations: meta.annotations,
      mounts: meta.mounts,
      log_path: meta.logPath,
      tty: meta.tty,
      stdin: meta.stdin,
      stdin_once: meta.stdinOnce,
    },
    runtimeSpec,
    privileged: meta.privileged ?? false,
    // berth's own.
    name: meta.name,
    runtimeHandler: meta.runtimeHandler,
    bundle: meta.bundle,
    persistDir: meta.persistDir,
    idmappedRootfs: meta.idmappedRootfs ?? false,
  };
}

export async function sandboxInfo(ctx: CallContext, record: SandboxRecord): Promise<Record<string, unknown>> {
  const { meta, status } = record;
  const infra = status.infraContainerId ? ctx.deps.containers.get(status.infraContainerId) : undefined;
  const hostNetwork = meta.modes.network === 'NODE';
  return {
    pid: infra?.status.pid ?? 0,
    processStatus: status.state === 'SANDBOX_READY' ? 'running' : 'stopped',
    netNamespaceClosed: hostNetwork || status.released === true,
    image: infra ? infra.meta.image : '',
    snapshotKey: infra?.meta.id ?? '',
    snapshotter: infra ? 'overlayfs' : '',
    runtimeHandler: meta.runtimeHandler,
    runtimeType: ctx.deps.config.runtimes[meta.runtimeHandler]?.runtime_type ?? 'oci',
    runtimeOptions: runtimeOptions(ctx, meta.runtimeHandler),
    config: meta.config,
    runtimeSpec: infra ? await runtimeSpecOf(infra.meta.bundle) : null,
    cniResult: meta.network?.result ?? null,
    // berth's own.
    id: meta.id,
    name: meta.name,
    namespaces: meta.namespaces,
    runDir: meta.runDir,
    cgroupParent: meta.cgroupParent,
    cniNetwork: meta.network?.network.name,
    resources: status.resources,
  };
}
