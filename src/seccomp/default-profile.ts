import type { Seccomp } from '../oci/spec-types.js';
import { ALLOWED_SYSCALLS } from './syscalls.js';

/** System calls allowed only when the container holds the capability. */
export const CONDITIONAL: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    'mount',
    'umount2',
    'umount',
    'pivot_root',
    'unshare',
    'setns',
    'bpf',
    'fanotify_init',
    'lookup_dcookie',
    'perf_event_open',
    'quotactl',
    'quotactl_fd',
    'fsopen',
    'fsconfig',
    'fsmount',
    'fspick',
    'move_mount',
    'open_tree',
    'mount_setattr',
    'open_by_handle_at',
    'name_to_handle_at',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'process_madvise', 'pidfd_getfd'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_adjtime', 'adjtimex'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['mbind', 'set_mempolicy', 'move_pages', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
};

/** CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}: creating namespaces needs CAP_SYS_ADMIN. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const ENOSYS = 38;
/** The native architecture and the compat ones its kernel also runs. */
const ARCHITECTURES: Record<string, string[]> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};
const EPERM = 1;

/**
 * berth's RuntimeDefault seccomp profile. Anything not listed fails with
 * EPERM. Rules depend on the container's capabilities: with CAP_SYS_ADMIN
 * it may mount and create namespaces, without it `clone` is allowed only
 * without namespace flags and `clone3` reports ENOSYS so that C libraries
 * fall back to `clone`, whose flags seccomp can inspect.
 */
export function defaultSeccompProfile(capabilities: readonly string[]): Seccomp {
  const caps = new Set(capabilities);
  const names = new Set(ALLOWED_SYSCALLS);
  for (const [cap, calls] of Object.entries(CONDITIONAL)) if (caps.has(cap)) for (const c of calls) names.add(c);
  const syscalls: NonNullable<Seccomp['syscalls']> = [
    { names: [...names].sort(), action: 'SCMP_ACT_ALLOW' },
    // personality(2) only for the harmless domains: Linux, its 32-bit
    // variant, and a query of the current value.
    ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((value) => ({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
    })),
  ];
  if (caps.has('CAP_SYS_ADMIN')) {
    syscalls.push({ names: ['clone', 'clone3'], action: 'SCMP_ACT_ALLOW' });
  } else {
    syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] });
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ARCHITECTURES[process.arch] ?? [],
    syscalls,
  };
}
