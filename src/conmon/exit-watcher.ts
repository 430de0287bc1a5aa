/**
 * Learns container exits from the files conmon writes in the exits
 * directory: `<dir>/<id>` holding the exit status (128+signal when
 * killed). conmon writes a temporary name and renames it into place, so
 * only names without a dot are final. inotify delivers the rename; a scan
 * at start-up catches exits that happened while berth was down.
 */

import { type FSWatcher, watch } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { errnoCode } from '../errors.js';

export type ExitHandler = (id: string, exitCode: number) => void | Promise<void>;

export class ExitWatcher {
  private watcher: FSWatcher | undefined;

  constructor(
    private readonly dir: string,
    private readonly onExit: ExitHandler,
    private readonly log: Logger,
  ) {}

  /** Starts watching, then reports every exit file already present. */
  async start(): Promise<void> {
    this.watcher = watch(this.dir, (_event, name) => {
      if (typeof name === 'string' && !name.includes('.')) void this.report(name);
    });
    this.watcher.on('error', (err) => this.log.error({ err }, 'exit watcher failed'));
    for (const name of await readdir(this.dir)) if (!name.includes('.')) await this.report(name);
  }

  private async report(id: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(path.join(this.dir, id), 'utf8');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.warn({ id, err }, 'cannot read exit file');
      return;
    }
    const code = Number.parseInt(text.trim(), 10);
    try {
      await this.onExit(id, Number.isFinite(code) ? code : -1);
    } catch (err) {
      this.log.error({ id, err }, 'handling a container exit failed');
    }
  }

  stop(): void {
    this.watcher?.close();
  }
}

/** Reads an exit file; undefined when conmon has not written it. */
export async function readExitFile(file: string): Promise<number | undefined> {
  try {
    const code = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isFinite(code) ? code : -1;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}
