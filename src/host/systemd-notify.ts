import type { Logger } from '../log.js';
import { notifyOps } from '../native/index.js';

/**
 * Tells systemd about the daemon's state (sd_notify(3)) when it runs as a
 * `Type=notify` service: READY=1 once berth answers CRI calls, RELOADING=1
 * and READY=1 around a reload, STOPPING=1 when it shuts down. Outside
 * systemd ($NOTIFY_SOCKET unset) it does nothing.
 */
export class SystemdNotifier {
  private readonly socket = process.env.NOTIFY_SOCKET;

  constructor(private readonly log: Logger) {
    // As sd_notify(3)'s unset_environment: the helpers berth runs must not
    // see it (runc would make a notify socket for every container).
    delete process.env.NOTIFY_SOCKET;
  }

  get enabled(): boolean {
    return Boolean(this.socket);
  }

  notify(state: Record<string, string | number>): void {
    if (!this.socket) return;
    const message = Object.entries(state)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    try {
      const ops = notifyOps();
      if (!ops) throw new Error('the native module is not available');
      ops.sdNotify(this.socket, message);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, socket: this.socket }, 'cannot notify systemd');
    }
  }

  ready(status: string): void {
    this.notify({ READY: 1, STATUS: status, MAINPID: process.pid });
  }

  stopping(): void {
    this.notify({ STOPPING: 1, STATUS: 'stopping' });
  }
}
