/**
 * CNI CHECK of the pods, in the background: every `network.check_interval`
 * for every ready pod, and once right after a pod's ADD. The last verdict
 * of each pod is kept for verbose PodSandboxStatus, which reports it
 * instead of starting plugins on every call (crictl inspectp, critest). A
 * plugin that fails or crashes is a verdict, never an error of a caller.
 */

import type { NetworkManager, PodNetwork } from '../cni/network-manager.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';

/** What checking needs of a pod's record. */
export interface CheckedPod {
  meta: { id: string; network?: PodNetwork };
  status: { state: string };
}

/** Kinds of failure remembered as reported; bounded, as every set a plugin's output can grow. */
const MAX_REPORTED_KINDS = 64;

/** The plugin and command a failure names ("CNI plugin bandwidth CHECK"), else its first words. */
export function failureKind(result: string): string {
  const named = /CNI plugin \S+ \S+/.exec(result);
  return named ? named[0] : result.slice(0, 80);
}

export interface CheckVerdict {
  result: string;
  checkedAt: string;
}

export class NetworkChecks {
  private readonly verdicts = new Map<string, CheckVerdict>();
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly network: Pick<NetworkManager, 'check'>,
    /** The pods now (a check of a pod removed meanwhile is dropped). */
    private readonly pods: { list(): CheckedPod[]; get(id: string): CheckedPod | undefined },
    private readonly log: Logger,
  ) {}

  /** Checks every pod every `intervalMs` (0: never), one round at a time. */
  start(intervalMs: number): void {
    clearInterval(this.timer);
    if (intervalMs <= 0) return;
    let running = false;
    this.timer = setInterval(() => {
      if (running) return;
      running = true;
      void (async () => {
        for (const record of this.pods.list()) await this.run(record);
      })().finally(() => {
        running = false;
      });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Checks one pod and keeps the verdict. */
  async run(record: CheckedPod): Promise<void> {
    const result = await this.check(record).catch((err: unknown) => `CHECK failed: ${messageOf(err)}`);
    if (result === undefined) return;
    if (!this.pods.get(record.meta.id)) return;
    this.verdicts.set(record.meta.id, { result, checkedAt: new Date().toISOString() });
    if (result === 'ok') return;
    // One warning per kind of failure: the same broken plugin fails the
    // same way for every pod at every interval.
    const kind = failureKind(result);
    if (this.reported.has(kind)) {
      this.log.debug({ podSandboxId: record.meta.id, check: result }, 'CNI CHECK failed for a pod (already reported)');
    } else {
      if (this.reported.size < MAX_REPORTED_KINDS) this.reported.add(kind);
      this.log.warn({ podSandboxId: record.meta.id, check: result }, 'CNI CHECK failed for a pod; further failures like it are logged at debug level');
    }
  }

  /** The last verdict of a pod, if one ran since berth started. */
  last(id: string): CheckVerdict | undefined {
    return this.verdicts.get(id);
  }

  forget(id: string): void {
    this.verdicts.delete(id);
  }

  /** CNI CHECK of one pod; undefined where the configuration does not support it. */
  private async check(record: CheckedPod): Promise<string | undefined> {
    if (!record.meta.network || record.status.state !== 'SANDBOX_READY') return undefined;
    return this.network.check(record.meta.network);
  }
}
