/**
 * Who the container process runs as, by runc's rules for reading the
 * container's own /etc/passwd and /etc/group (through readFileInRoot, so a
 * symlinked /etc/passwd cannot make berth read the host's, and a FIFO or a
 * device in its place is refused instead of blocking or flooding berth).
 *
 * Source order: CRI run_as_username, then run_as_user, then the image's
 * User. A name must exist in /etc/passwd; a numeric uid takes its primary
 * group from /etc/passwd when listed there, else gid 0. `user:group` and
 * run_as_group override the group. Supplementary groups are the primary
 * group, the groups listing the user in /etc/group (policy Merge only)
 * and the CRI's.
 */

import { invalidArgument, failedPrecondition } from '../../errors.js';
import { readFileInRoot } from '../../util/bounded-read.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The user name when /etc/passwd knows one. */
  name?: string;
}

export interface UserRequest {
  runAsUser?: number;
  runAsUsername?: string;
  runAsGroup?: number;
  supplementalGroups: number[];
  /** Strict: only the CRI's supplemental groups; Merge (default): the image's too. */
  policy: 'Merge' | 'Strict';
  imageUser: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Large enough for any real account database, small enough to read per create. */
export const MAX_ACCOUNT_FILE_BYTES = 4 << 20;

async function readEtc(rootfs: string, file: string): Promise<string[][]> {
  const data = await readFileInRoot(rootfs, file, { maxBytes: MAX_ACCOUNT_FILE_BYTES, what: "the image's" });
  if (!data) return [];
  return data
    .toString('utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

const isNumeric = (s: string) => /^\d+$/.test(s);

export async function resolveUser(rootfs: string, req: UserRequest): Promise<ResolvedUser> {
  const [passwdFile, groupFile] = await Promise.all([readEtc(rootfs, '/etc/passwd'), readEtc(rootfs, '/etc/group')]);
  const passwd: PasswdEntry[] = passwdFile
    .filter((f) => f.length >= 4 && isNumeric(f[2]!) && isNumeric(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
  const groups: GroupEntry[] = groupFile
    .filter((f) => f.length >= 3 && isNumeric(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));

  let userPart: string;
  let groupPart: string | undefined;
  if (req.runAsUsername) userPart = req.runAsUsername;
  else if (req.runAsUser !== undefined) userPart = String(req.runAsUser);
  else {
    const [u, g] = req.imageUser.split(':');
    userPart = u || '0';
    groupPart = g || undefined;
  }
  let uid: number;
  let gid = 0;
  let name: string | undefined;
  if (isNumeric(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    if (entry) {
      gid = entry.gid;
      name = entry.name;
    }
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw failedPrecondition(`user "${userPart}" is not in the container's /etc/passwd`);
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
  }
  if (groupPart !== undefined) {
    if (isNumeric(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw failedPrecondition(`group "${groupPart}" is not in the container's /etc/group`);
      gid = g.gid;
    }
  }
  if (req.runAsGroup !== undefined) gid = req.runAsGroup;
  // The primary group is a supplementary group too, as containerd and
  // CRI-O set it up and ContainerStatus.user reports it.
  const additional: number[] = [gid];
  const add = (g: number) => {
    if (!additional.includes(g)) additional.push(g);
  };
  if (req.policy === 'Merge' && name !== undefined) {
    for (const g of groups) if (g.members.includes(name)) add(g.gid);
  }
  for (const g of req.supplementalGroups) add(g);
  return { uid, gid, additionalGids: additional, name };
}

export function checkUserRequest(req: { runAsGroup?: number; runAsUser?: number; runAsUsername?: string }, what: string): void {
  if (req.runAsGroup !== undefined && req.runAsUser === undefined && !req.runAsUsername) {
    throw invalidArgument(`${what}: run_as_group is set without run_as_user or run_as_username`);
  }
}
