import { readFile } from 'node:fs/promises';

/**
 * The start time of a process (clock ticks since boot, field 22 of
 * /proc/<pid>/stat). A pid with a different start time is another
 * process that reused the number.
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

export async function isSameProcess(pid: number | undefined, startTime: string | undefined): Promise<boolean> {
  if (!pid || !startTime) return false;
  return (await processStartTime(pid)) === startTime;
}

/** CRI stop signal names to what `runc kill` accepts. */
export function signalName(criSignal: string, imageStopSignal: string | undefined): string {
  if (!criSignal || criSignal === 'RUNTIME_DEFAULT') return imageStopSignal || 'SIGTERM';
  const rt = /^SIGRTMINPLUS(\d+)$/.exec(criSignal);
  if (rt) return String(34 + Number(rt[1]));
  if (criSignal === 'SIGRTMIN') return '34';
  return criSignal;
}

/** Whether the conmon that wrote `pidFile` still runs (it monitors the container). */
export async function conmonAlive(pidFile: string): Promise<boolean> {
  const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
  if (!(pid > 0)) return false;
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.trim() === 'conmon';
}
