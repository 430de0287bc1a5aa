import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { BerthConfig } from '../config/schema.js';
import { StartError, errnoCode } from '../errors.js';

/**
 * The programs berth runs for every container: each OCI runtime handler and
 * conmon. A missing one is found at start-up, naming its key and path,
 * rather than as an UNKNOWN error from the first StartContainer.
 */
export async function checkExecutables(config: BerthConfig): Promise<void> {
  const wanted: [string, string][] = [
    ['runtime.conmon', config.runtime.conmon],
    ...Object.entries(config.runtimes).map(([name, h]): [string, string] => [`runtimes.${name}.runtime_path`, h.runtime_path]),
  ];
  const problems: string[] = [];
  for (const [key, file] of wanted) {
    const why = await notExecutable(file);
    if (why) problems.push(`${key}: ${file} ${why}`);
  }
  if (problems.length > 0) throw new StartError(`${problems.join('; ')} (install it, e.g. apt-get install runc conmon, or set the path in berth.conf)`);
}

/** Why `file` cannot be run as a helper, or undefined when it can. */
export async function notExecutable(file: string): Promise<string | undefined> {
  try {
    if (!(await stat(file)).isFile()) return 'is not a file';
    await access(file, constants.X_OK);
    return undefined;
  } catch (err) {
    return errnoCode(err) === 'ENOENT' ? 'does not exist' : `cannot be run (${errnoCode(err) ?? 'error'})`;
  }
}
