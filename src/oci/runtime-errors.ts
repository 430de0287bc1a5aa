/**
 * What an OCI runtime's failure text means. runc (logrus lines:
 * `level=error msg="container does not exist"`) and crun (`error opening
 * file '/run/crun/<id>/status': No such file or directory`, `kill
 * container: No such process`) say the same few things in their own words;
 * berth needs to know only whether the container is gone, was not running,
 * or the call really failed. Kept apart from the runner so the table is
 * tested on the runtimes' captured words (test/runtime-errors.test.ts).
 */

export type RuntimeFailure = 'gone' | 'not-running' | 'failed';

/** The container is unknown to the runtime. */
const GONE = [/container does not exist/i, /\bdoes not exist\b/i, /no such file or directory/i, /container not found/i];
/** The container exists but has no process to signal. */
const NOT_RUNNING = [/container not running/i, /no such process/i, /invalid process/i, /process already finished/i];

export function classifyRuntimeFailure(text: string): RuntimeFailure {
  if (NOT_RUNNING.some((re) => re.test(text))) return 'not-running';
  if (GONE.some((re) => re.test(text))) return 'gone';
  return 'failed';
}
