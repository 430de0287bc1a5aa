import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { ContainerRecord } from '../container/container-service.js';
import type { Channels } from './channels.js';

/**
 * Attach to a container's main process through conmon's attach socket
 * (SOCK_SEQPACKET), pumped by berth-stream, which frames each message as
 * [stream][length][payload]. Several clients may attach at once; conmon
 * copies output to all. Resizes go to conmon's control FIFO as
 * "1 <rows> <cols>", one line per write.
 */
export async function runAttach(opts: { record: ContainerRecord; socketDir: string; channels: Channels; helper: string }): Promise<void> {
  const { record, channels } = opts;
  const socket = path.join(opts.socketDir, record.meta.id, 'attach');
  const pump = spawn(opts.helper, ['attach', socket], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderrText = '';
  pump.stderr.on('data', (d: Buffer) => {
    stderrText += d.toString();
  });
  pump.stdin.on('error', () => undefined);
  // Without a stdin channel the container's stdin must stay open: never end ours.
  if (channels.stdin) channels.stdin.pipe(pump.stdin);
  let pending: Buffer = Buffer.alloc(0);
  pump.stdout.on('data', (d: Buffer) => {
    pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
    while (pending.length >= 5) {
      const len = pending.readUInt32BE(1);
      if (pending.length < 5 + len) break;
      const stream = pending[0];
      const payload = pending.subarray(5, 5 + len);
      pending = pending.subarray(5 + len);
      const target = stream === 3 && channels.stderr ? channels.stderr : channels.stdout;
      if (target && !target.write(Buffer.from(payload))) holdUntilDrained(target);
    }
  });
  // A client that reads slowly stops the pump: berth-stream then blocks on
  // its pipe and conmon's socket fills, so the container is what waits.
  const holding = new Set<Writable>();
  const holdUntilDrained = (target: Writable) => {
    if (holding.has(target)) return;
    holding.add(target);
    pump.stdout.pause();
    const release = () => {
      target.off('drain', release);
      target.off('close', release);
      holding.delete(target);
      if (holding.size === 0) pump.stdout.resume();
    };
    target.on('drain', release);
    target.on('close', release);
  };
  channels.onResize((s) => void resize(record.meta.bundle, s.height, s.width));
  channels.onClientGone(() => {
    channels.stdin?.unpipe(pump.stdin);
    pump.kill('SIGKILL');
  });
  const code = await new Promise<number>((resolve) => pump.once('exit', (c) => resolve(c ?? 1)));
  if (code !== 0) await channels.finish({ kind: 'error', message: `attach failed: ${stderrText.trim() || `exit status ${code}`}` });
  else await channels.finish({ kind: 'success' });
}

async function resize(bundle: string, rows: number, cols: number): Promise<void> {
  try {
    const fh = await open(path.join(bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      await fh.write(`1 ${rows} ${cols}\n`);
    } finally {
      await fh.close();
    }
  } catch {
    // The container is gone; nothing to resize.
  }
}
