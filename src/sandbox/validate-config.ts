import { isIP } from 'node:net';
import path from 'node:path';
import { invalidArgument } from '../errors.js';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig.js';
import { type DnsConfigLike, hostHostname } from './pod-files.js';

/**
 * Checks of a RunPodSandbox request's fields that end up in files, argv
 * or the kernel, made before anything is created. Every value is checked
 * exactly as it will be written: nothing is trimmed first.
 */

/** Every check of a RunPodSandbox config that needs no state. */
export async function checkPodConfig(config: PodSandboxConfig__Output): Promise<void> {
  const hostNetwork = config.linux?.securityContext?.namespaceOptions?.network === 'NODE';
  if (config.hostname) {
    checkHostname(config.hostname);
    // A host-network pod shares the node's UTS namespace: its hostname is the node's.
    if (hostNetwork && config.hostname !== (await hostHostname())) {
      throw invalidArgument(`hostname ${JSON.stringify(config.hostname)} cannot be set for a pod on the host network (it has the node's hostname)`);
    }
  }
  checkDnsConfig(config.dnsConfig);
  checkLogDirectory(config.logDirectory);
}

/** The kernel's limit (HOST_NAME_MAX); the kubelet truncates pod hostnames to 63. */
export const MAX_HOSTNAME = 64;
/** The kubelet's own limits on a pod's DNS search list (MaxDNSSearchPaths, MaxDNSSearchListChars). */
export const MAX_DNS_SEARCHES = 32;
export const MAX_DNS_SEARCH_CHARS = 2048;
/** resolv.conf(5) has no limit of its own on these; the bounds keep the file small. */
export const MAX_DNS_SERVERS = 16;
export const MAX_DNS_OPTIONS = 32;
const MAX_DNS_VALUE = 253;

/** NUL ends the string for the kernel, `/` would make /etc/hostname a path, blanks split /etc/hosts lines. */
const UNUSABLE_IN_HOSTNAME = /[\s/\p{Cc}]/u;

/**
 * What the kernel's sethostname(2) and the pod's /etc/hostname and /etc/hosts
 * can carry: at most HOST_NAME_MAX bytes, with no character that would cut or
 * split those files. Deliberately not RFC 1123: containerd and CRI-O accept
 * underscores and upper case (CRI-O's own test pods are `crictl_host`).
 */
export function checkHostname(hostname: string): void {
  const bytes = Buffer.byteLength(hostname);
  if (bytes > MAX_HOSTNAME) throw invalidArgument(`hostname is ${bytes} bytes long; at most ${MAX_HOSTNAME} are allowed`);
  const bad = UNUSABLE_IN_HOSTNAME.exec(hostname);
  if (bad) {
    const code = `U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    throw invalidArgument(`hostname ${JSON.stringify(hostname)} contains ${code}; a hostname cannot hold blanks, control characters or '/'`);
  }
}

/** One resolv.conf word: printable, no blank, no comment character. */
const DNS_WORD = /^[\x21-\x7e]+$/;

export function checkDnsConfig(dns: DnsConfigLike | null): void {
  if (!dns) return;
  if (dns.servers.length > MAX_DNS_SERVERS) throw invalidArgument(`dns_config has ${dns.servers.length} servers; at most ${MAX_DNS_SERVERS} are allowed`);
  for (const s of dns.servers) {
    if (isIP(s) === 0) throw invalidArgument(`dns_config server ${JSON.stringify(s)} is not an IP address`);
  }
  if (dns.searches.length > MAX_DNS_SEARCHES)
    throw invalidArgument(`dns_config has ${dns.searches.length} search domains; at most ${MAX_DNS_SEARCHES} are allowed`);
  const searchChars = dns.searches.reduce((n, s) => n + s.length + 1, 0);
  if (searchChars > MAX_DNS_SEARCH_CHARS)
    throw invalidArgument(`dns_config search list is ${searchChars} characters long; at most ${MAX_DNS_SEARCH_CHARS} are allowed`);
  if (dns.options.length > MAX_DNS_OPTIONS) throw invalidArgument(`dns_config has ${dns.options.length} options; at most ${MAX_DNS_OPTIONS} are allowed`);
  for (const [what, values] of [
    ['search domain', dns.searches],
    ['option', dns.options],
  ] as const) {
    for (const v of values) {
      if (v.length > MAX_DNS_VALUE || !DNS_WORD.test(v) || v.includes('#') || v.includes(';')) {
        throw invalidArgument(
          `dns_config ${what} ${JSON.stringify(v)} is not allowed: one word of printable characters without '#' or ';', at most ${MAX_DNS_VALUE} long`,
        );
      }
    }
  }
}

export function checkLogDirectory(dir: string): void {
  if (!dir) return;
  if (!path.isAbsolute(dir) || dir.includes('\0')) throw invalidArgument(`log_directory ${JSON.stringify(dir)} must be an absolute path`);
}

/**
 * The host path of a container's log: `log_path` is relative to the pod's
 * `log_directory` and must stay inside it (no absolute path, no `..` out).
 */
export function containerLogPath(logDirectory: string, logPath: string): string {
  if (!logPath) return '';
  if (!logDirectory) throw invalidArgument('log_path is set but the pod has no log_directory to hold it');
  if (path.isAbsolute(logPath) || logPath.includes('\0'))
    throw invalidArgument(`log_path ${JSON.stringify(logPath)} must be relative to the pod's log_directory`);
  const full = path.resolve(logDirectory, logPath);
  const rel = path.relative(path.resolve(logDirectory), full);
  if (rel === '' || rel === '..' || rel.startsWith('../') || path.isAbsolute(rel))
    throw invalidArgument(`log_path ${JSON.stringify(logPath)} leads outside the pod's log_directory`);
  return full;
}
