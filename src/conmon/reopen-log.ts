/**
 * ReopenContainerLog through conmon's control FIFO (`<bundle>/ctl`): the
 * message `2 0 0` asks conmon to reopen its log file, which the kubelet
 * has just renamed away. conmon answers nothing, so berth waits until the
 * new file exists.
 */

import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { runtimeFailed } from '../errors.js';

const REOPEN_LOG = '2 0 0\n';

export async function reopenConmonLog(bundle: string, logPath: string, waitMs = 1000): Promise<void> {
  // Non-blocking: a conmon that has gone leaves a FIFO without a reader (ENXIO), not a hang.
  const fh = await open(path.join(bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await fh.write(REOPEN_LOG);
  } finally {
    await fh.close();
  }
  if (!logPath) return;
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (
      await stat(logPath).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw runtimeFailed(`conmon did not reopen ${logPath}`);
}
