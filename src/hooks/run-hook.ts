/**
 * Running a hook berth itself owes: a pod's poststop hooks. A pod without
 * an infra container has no runtime container for runc to run them with,
 * so berth runs them when the pod stops, as runc would: the hook's path
 * with its args and env, the OCI state of the pod on stdin, killed past its
 * timeout. A poststop hook that fails is logged; it cannot undo the stop.
 */

import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Hook } from '../oci/spec-types.js';
import { failureText, runCommand } from '../util/exec.js';

const DEFAULT_TIMEOUT_S = 30;

export interface HookState {
  id: string;
  bundle: string;
  annotations: Record<string, string>;
}

export async function runPoststopHooks(hooks: Hook[], state: HookState, log: Logger): Promise<void> {
  const input = JSON.stringify({ ociVersion: '1.0.2', id: state.id, status: 'stopped', pid: 0, bundle: state.bundle, annotations: state.annotations });
  for (const hook of hooks) {
    try {
      const res = await runCommand(hook.path, (hook.args ?? []).slice(1), {
        input,
        env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
        timeoutMs: (hook.timeout ?? DEFAULT_TIMEOUT_S) * 1000,
        maxOutput: 64 << 10,
      });
      if (res.code !== 0) log.warn({ hook: hook.path, podSandboxId: state.id, err: failureText(res) }, 'a poststop hook of the pod failed');
    } catch (err) {
      log.warn({ hook: hook.path, podSandboxId: state.id, err: messageOf(err) }, 'a poststop hook of the pod could not run');
    }
  }
}
