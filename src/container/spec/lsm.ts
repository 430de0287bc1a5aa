/**
 * Linux security modules, applied only where the host has them: a host
 * without AppArmor or SELinux runs the container without, never fails.
 */

import { invalidArgument } from '../../errors.js';
import type { SecurityProfileLike } from './seccomp.js';

export const DEFAULT_APPARMOR_PROFILE = 'berth-default';

/**
 * The AppArmor profile for the process, or undefined for none. CRI's
 * `apparmor` field wins over the deprecated `apparmor_profile` string
 * ("runtime/default", "unconfined", "localhost/<name>").
 */
export function apparmorProfile(opts: {
  hostHasAppArmor: boolean;
  defaultLoaded: boolean;
  profile: SecurityProfileLike | null;
  legacy: string;
  privileged: boolean;
}): string | undefined {
  if (!opts.hostHasAppArmor) return undefined;
  let type: string;
  let ref = '';
  if (opts.profile) {
    type = opts.profile.profileType;
    ref = opts.profile.localhostRef;
  } else if (opts.legacy) {
    if (opts.legacy === 'runtime/default') type = 'RuntimeDefault';
    else if (opts.legacy === 'unconfined') type = 'Unconfined';
    else if (opts.legacy.startsWith('localhost/')) {
      type = 'Localhost';
      ref = opts.legacy.slice('localhost/'.length);
    } else throw invalidArgument(`unknown apparmor profile "${opts.legacy}"`);
  } else type = opts.privileged ? 'Unconfined' : 'RuntimeDefault';
  switch (type) {
    case 'Unconfined':
      return 'unconfined';
    case 'RuntimeDefault':
      return opts.privileged || !opts.defaultLoaded ? undefined : DEFAULT_APPARMOR_PROFILE;
    case 'Localhost':
      if (!ref) throw invalidArgument('apparmor Localhost profile needs a profile name');
      return ref;
    default:
      throw invalidArgument(`unknown apparmor profile type "${type}"`);
  }
}

/** berth's default AppArmor profile: ordinary work allowed, host-changing writes and mounts denied. */
export const APPARMOR_DEFAULT_TEXT = `#include <tunables/global>
profile ${DEFAULT_APPARMOR_PROFILE} flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
  network,
  capability,
  file,
  umount,
  signal (send,receive) peer=${DEFAULT_APPARMOR_PROFILE},
  signal (receive) peer=unconfined,
  ptrace (trace,read,tracedby,readby) peer=${DEFAULT_APPARMOR_PROFILE},
  deny mount,
  deny /proc/sysrq-trigger rwklx,
  deny /proc/kcore rwklx,
  deny /proc/sys/kernel/[^s]** w,
  deny /proc/sys/[^kn]** w,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
`;

export interface SelinuxOptionsLike {
  user: string;
  role: string;
  type: string;
  level: string;
}

/** The SELinux process label, where the host enforces SELinux and the pod asks for one. */
export function selinuxLabel(hostHasSelinux: boolean, opts: SelinuxOptionsLike | null): string | undefined {
  if (!hostHasSelinux || !opts || (!opts.user && !opts.role && !opts.type && !opts.level)) return undefined;
  return `${opts.user || 'system_u'}:${opts.role || 'system_r'}:${opts.type || 'container_t'}:${opts.level || 's0'}`;
}
