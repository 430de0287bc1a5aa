import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { makeDirs } from '../util/fs.js';

export interface DnsConfigLike {
  servers: string[];
  searches: string[];
  options: string[];
}

/** resolv.conf from the pod's DNSConfig (checked by checkDnsConfig), or a copy of the host's when it has none. */
export async function writeResolvConf(file: string, dns: DnsConfigLike | null): Promise<void> {
  if (!dns || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) {
    try {
      await copyFile('/etc/resolv.conf', file);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      await writeFile(file, '', { mode: 0o644 });
    }
    return;
  }
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o644 });
}

export async function writeHostname(file: string, hostname: string): Promise<void> {
  await writeFile(file, `${hostname}\n`, { mode: 0o644 });
}

export async function makeRunDir(dir: string): Promise<void> {
  await makeDirs(dir, 0o711);
  await mkdir(path.join(dir, 'ns'), { mode: 0o700 }).catch((err: unknown) => {
    if (errnoCode(err) !== 'EEXIST') throw err;
  });
}

/** The host's hostname, as host-network pods see it. */
export async function hostHostname(): Promise<string> {
  return (await readFile('/proc/sys/kernel/hostname', 'utf8')).trim();
}
