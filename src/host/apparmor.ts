import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { APPARMOR_DEFAULT_TEXT, DEFAULT_APPARMOR_PROFILE } from '../container/spec/lsm.js';
import { failureText, runCommand } from '../util/exec.js';

/**
 * Loads berth's default AppArmor profile where the host runs AppArmor.
 * Without apparmor_parser the containers asking for RuntimeDefault run
 * without a profile, and berth says so once.
 */
export async function loadDefaultAppArmorProfile(enabled: boolean, runroot: string, log: Logger): Promise<boolean> {
  if (!enabled) return false;
  const file = path.join(runroot, `${DEFAULT_APPARMOR_PROFILE}.apparmor`);
  await writeFile(file, APPARMOR_DEFAULT_TEXT);
  try {
    const res = await runCommand('apparmor_parser', ['-Kr', file]);
    if (res.code !== 0) {
      log.warn({ err: failureText(res) }, `cannot load the ${DEFAULT_APPARMOR_PROFILE} AppArmor profile; RuntimeDefault containers run without one`);
      return false;
    }
    return true;
  } catch (err) {
    log.warn({ err }, 'apparmor_parser is not installed; RuntimeDefault containers run without an AppArmor profile');
    return false;
  } finally {
    await rm(file, { force: true });
  }
}
