/**
 * berth's installation directory, the one holding package.json, proto/ and
 * native/. This module sits one level below it in every form berth runs
 * in: src/ (tests), dist/ (compiled modules) and dist/berth.js (the bundle
 * the CLI loads), so this one relative step is right for all of them.
 */

import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

export function installPath(...parts: string[]): string {
  return [PACKAGE_ROOT.replace(/\/$/, ''), ...parts].join('/');
}
