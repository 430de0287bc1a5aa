import path from 'node:path';
import { call, type CriClient } from '../e2e/lib/cri-client.js';
import { processFigures } from './measure.js';
import { benchPod, removePod, sleeper } from './workloads.js';

export interface ChurnFigures {
  cycles: number;
  /** Daemon RSS after every `every` cycles, the first sample after the warm-up. */
  rss: { cycle: number; bytes: number }[];
}

/**
 * Container churn in one pod: create, start, stop and remove a container,
 * `cycles` times, after a warm-up of 50 cycles that lets the heap settle.
 * A leak in records, watchers or timers shows as RSS that keeps growing.
 */
export async function churn(client: CriClient, pid: () => number, image: string, logDir: string, cycles: number, tag: string): Promise<ChurnFigures> {
  const rt = client.runtime;
  const pod = await benchPod(`churn-${tag}`, path.join(logDir, `churn-${tag}`));
  const podId = (await call(rt, rt.RunPodSandbox, { config: pod })).podSandboxId;
  const out: ChurnFigures = { cycles, rss: [] };
  const every = Math.max(1, Math.floor(cycles / 50));
  try {
    for (let i = -50; i < cycles; i++) {
      const cfg = sleeper(image);
      cfg.metadata = { name: `c${i}`, attempt: 0 };
      const { containerId } = await call(rt, rt.CreateContainer, { podSandboxId: podId, config: cfg, sandboxConfig: pod });
      await call(rt, rt.StartContainer, { containerId });
      await call(rt, rt.StopContainer, { containerId, timeout: 0 });
      await call(rt, rt.RemoveContainer, { containerId });
      if (i >= 0 && (i + 1) % every === 0) out.rss.push({ cycle: i + 1, bytes: (await processFigures(pid())).rssBytes });
    }
  } finally {
    await removePod(client, podId);
  }
  return out;
}
