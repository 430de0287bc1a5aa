import { notFound } from '../errors.js';
import type { Descriptor, Platform } from './media-types.js';

const GOARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

/** This machine's platform in OCI terms (GOOS/GOARCH names). */
export function hostPlatform(): Platform {
  const architecture = GOARCH[process.arch] ?? process.arch;
  const platform: Platform = { os: 'linux', architecture };
  if (architecture === 'arm64') platform.variant = 'v8';
  if (architecture === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    platform.variant = `v${v ?? '7'}`;
  }
  return platform;
}

function normaliseVariant(arch: string, variant: string | undefined): string | undefined {
  if (arch === 'arm64' && (variant === undefined || variant === '')) return 'v8';
  if (arch === 'amd64' && (variant === undefined || variant === '' || variant === 'v1')) return undefined;
  return variant || undefined;
}

/**
 * Picks the manifest for `want` from an index: same OS and architecture,
 * the exact variant preferred, then the first compatible one.
 */
export function selectPlatform(manifests: Descriptor[], want: Platform): Descriptor {
  const wantVariant = normaliseVariant(want.architecture, want.variant);
  const candidates = manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture);
  const exact = candidates.find((m) => normaliseVariant(want.architecture, m.platform!.variant) === wantVariant);
  const chosen = exact ?? candidates[0];
  if (!chosen) {
    const available = manifests
      .map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}` : 'unknown'))
      .join(', ');
    throw notFound(`no image for platform ${want.os}/${want.architecture} in the index (it has: ${available || 'nothing'})`);
  }
  return chosen;
}
