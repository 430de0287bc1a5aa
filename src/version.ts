import { readFile } from 'node:fs/promises';
import { installPath } from './install-paths.js';

/** The CRI API version berth implements (kubernetes/cri-api tag). */
export const CRI_API_VERSION = 'v1 (cri-api v0.36)';

export interface VersionInfo {
  version: string;
  gitCommit: string;
  criApiVersion: string;
  nodeVersion: string;
}

let cached: VersionInfo | undefined;

/**
 * Reads the package version and the commit recorded at build time
 * (scripts/build-info.mjs writes dist/build-info.json).
 */
export async function versionInfo(): Promise<VersionInfo> {
  if (cached) return cached;
  const pkg = JSON.parse(await readFile(installPath('package.json'), 'utf8')) as { version: string };
  let gitCommit = 'unknown';
  try {
    const info = JSON.parse(await readFile(installPath('dist', 'build-info.json'), 'utf8')) as { gitCommit?: string };
    gitCommit = info.gitCommit ?? gitCommit;
  } catch {
    // Built without git metadata: keep "unknown".
  }
  cached = { version: pkg.version, gitCommit, criApiVersion: CRI_API_VERSION, nodeVersion: process.version };
  return cached;
}
