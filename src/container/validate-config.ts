import path from 'node:path';
import { invalidArgument } from '../errors.js';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig.js';
import type { SandboxMeta } from '../sandbox/sandbox.js';
import { containerLogPath } from '../sandbox/validate-config.js';

/**
 * Checks of a CreateContainer request that need only the request and its
 * pod, made before anything is reserved or created. Strings that reach
 * runc's argv, environment or a path must not hold a NUL byte: the
 * runtime would fail on them late, with words of its own.
 */
export function checkContainerConfig(config: ContainerConfig__Output, pod: SandboxMeta): void {
  const name = config.metadata?.name ?? '';
  const where = `container ${JSON.stringify(name)}`;
  const noNul = (what: string, value: string) => {
    if (value.includes('\0')) throw invalidArgument(`${where}: ${what} contains a NUL byte`);
  };
  noNul('name', name);
  noNul('image', config.image?.image ?? '');
  for (const [i, c] of config.command.entries()) noNul(`command[${i}]`, c);
  for (const [i, a] of config.args.entries()) noNul(`args[${i}]`, a);
  for (const env of config.envs) {
    if (!env.key || env.key.includes('=')) throw invalidArgument(`${where}: environment variable name ${JSON.stringify(env.key)} is empty or contains '='`);
    noNul(`environment variable ${env.key}`, `${env.key}${env.value}`);
  }
  if (config.workingDir) {
    noNul('working_dir', config.workingDir);
    if (!path.isAbsolute(config.workingDir)) throw invalidArgument(`${where}: working_dir ${JSON.stringify(config.workingDir)} must be absolute`);
  }
  for (const m of config.mounts) {
    noNul('mount container_path', m.containerPath);
    noNul('mount host_path', m.hostPath);
  }
  for (const d of config.devices) {
    noNul('device container_path', d.containerPath);
    noNul('device host_path', d.hostPath);
  }
  // Resolves log_path against the pod's log_directory, refusing escapes.
  containerLogPath(pod.config.logDirectory, config.logPath);

  // The pod's security context is what admission checked: a privileged
  // container needs a privileged pod (containerd and CRI-O refuse it too).
  const privileged = config.linux?.securityContext?.privileged === true;
  if (privileged && pod.config.linux?.securityContext?.privileged !== true) {
    throw invalidArgument(`${where}: a privileged container is not allowed in pod sandbox ${pod.id}, which is not privileged`);
  }
}
