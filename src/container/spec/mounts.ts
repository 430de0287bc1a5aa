import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, invalidArgument } from '../../errors.js';
import type { Mount } from '../../oci/spec-types.js';
import { makeDirs } from '../../util/fs.js';

/** A CRI mount as the request carries it. */
export interface CriMount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  propagation: string;
  recursiveReadOnly: boolean;
  selinuxRelabel: boolean;
  /** ID mappings for an idmapped bind (a user-namespaced pod's volume); empty: none. */
  uidMappings?: IdMappingRequest[];
  gidMappings?: IdMappingRequest[];
  /** An image volume: the image (reference or id) to mount instead of a host path. */
  image?: string;
  imageSubPath?: string;
}

/** A CRI IDMapping: `length` ids from `containerId` inside map to `hostId` outside. */
export interface IdMappingRequest {
  hostId: number;
  containerId: number;
  length: number;
}

/** Makes an idmapped copy of a host path to bind (absent: idmapped mounts are refused). */
export type IdmapPreparer = (source: string, mount: CriMount, index: number) => Promise<string>;

/** Per-pod files that every container of the pod mounts. */
export interface PodFiles {
  /** The pod's /dev/shm, or undefined to use the host's (host IPC). */
  shm?: string;
  hostname?: string;
  resolvConf?: string;
  /** The host's /etc/hosts, for host-network pods only. */
  hosts?: string;
}

const PROPAGATION: Record<string, string> = {
  PROPAGATION_PRIVATE: 'rprivate',
  PROPAGATION_HOST_TO_CONTAINER: 'rslave',
  PROPAGATION_BIDIRECTIONAL: 'rshared',
};

/** The kernel filesystems every container gets, as runc and CRI-O set them up. */
export function defaultMounts(privileged: boolean, cgroupNamespace: boolean): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro', ...(cgroupNamespace ? [] : [])],
    },
  ];
}

export function podMounts(files: PodFiles, readonlyRootfs: boolean): Mount[] {
  const out: Mount[] = [];
  out.push(
    files.shm
      ? { destination: '/dev/shm', type: 'bind', source: files.shm, options: ['rbind', 'rprivate', 'rw'] }
      : { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate', 'rw'] },
  );
  const ro = readonlyRootfs ? 'ro' : 'rw';
  if (files.hostname) out.push({ destination: '/etc/hostname', type: 'bind', source: files.hostname, options: ['rbind', 'rprivate', ro] });
  if (files.resolvConf) out.push({ destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConf, options: ['rbind', 'rprivate', ro] });
  if (files.hosts) out.push({ destination: '/etc/hosts', type: 'bind', source: files.hosts, options: ['rbind', 'rprivate', ro] });
  return out;
}

/**
 * CRI mounts as OCI bind mounts: host symlinks resolved, missing host
 * directories created (as containerd does), parents before children.
 */
/** Turns a host path into a recursively read-only tree to bind (absent: not supported). */
export type RroPreparer = (source: string, index: number) => Promise<string>;
/** Mounts an image volume on the host; returns the path to bind (see container/image-volumes.ts). */
export type ImageVolumePreparer = (image: string, subPath: string, containerPath: string, index: number) => Promise<string>;

/** Bind options of an image volume: read-only, and nothing in it runs or acts as a device. */
const IMAGE_VOLUME_BIND = ['rbind', 'rprivate', 'ro', 'noexec', 'nosuid', 'nodev'];

export async function criMounts(
  mounts: CriMount[],
  rroSupported: boolean,
  prepareRro?: RroPreparer,
  prepareImage?: ImageVolumePreparer,
  prepareIdmap?: IdmapPreparer,
): Promise<{ mounts: Mount[]; reported: CriMount[] }> {
  const out: Mount[] = [];
  const reported: CriMount[] = [];
  const sorted = [...mounts].sort((a, b) => depth(a.containerPath) - depth(b.containerPath));
  for (const m of sorted) {
    if (!m.containerPath || !path.isAbsolute(m.containerPath)) throw invalidArgument(`mount container_path "${m.containerPath}" must be an absolute path`);
    if (m.image) {
      if (m.hostPath) throw invalidArgument(`mount ${m.containerPath}: an image volume takes no host_path`);
      if (!prepareImage) throw invalidArgument(`mount ${m.containerPath}: image volumes are not supported here`);
      const source = await prepareImage(m.image, m.imageSubPath ?? '', path.normalize(m.containerPath), out.length);
      out.push({ destination: path.normalize(m.containerPath), type: 'bind', source, options: IMAGE_VOLUME_BIND });
      reported.push({ ...m, readonly: true });
      continue;
    }
    if (m.imageSubPath) throw invalidArgument(`mount ${m.containerPath}: image_sub_path without an image`);
    if (!m.hostPath || !path.isAbsolute(m.hostPath)) throw invalidArgument(`mount host_path "${m.hostPath}" for ${m.containerPath} must be an absolute path`);
    if (m.recursiveReadOnly && !m.readonly) throw invalidArgument(`mount ${m.containerPath}: recursive_read_only needs readonly`);
    if (m.recursiveReadOnly && (!rroSupported || !prepareRro))
      throw invalidArgument(`mount ${m.containerPath}: recursive read-only mounts are not supported by this runtime handler`);
    if (m.recursiveReadOnly && m.propagation !== 'PROPAGATION_PRIVATE' && m.propagation !== '') {
      throw invalidArgument(`mount ${m.containerPath}: recursive read-only mounts need private propagation`);
    }
    let source: string;
    try {
      source = await realpath(m.hostPath);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOTDIR' || code === 'ELOOP') throw invalidArgument(`mount host_path ${m.hostPath}: a part of it is not a directory (${code})`);
      if (code !== 'ENOENT') throw err;
      await makeDirs(m.hostPath, 0o755).catch((e: unknown) => {
        const c = errnoCode(e);
        if (c === 'ENOTDIR' || c === 'EEXIST') throw invalidArgument(`mount host_path ${m.hostPath} cannot be created: a part of it is a file`);
        throw e;
      });
      source = await realpath(m.hostPath);
    }
    const propagation = PROPAGATION[m.propagation] ?? 'rprivate';
    if (m.uidMappings?.length || m.gidMappings?.length) {
      if (!prepareIdmap) throw invalidArgument(`mount ${m.containerPath}: ID mappings need a pod with a user namespace of its own`);
      source = await prepareIdmap(source, m, out.length);
    }
    if (m.recursiveReadOnly && prepareRro) source = await prepareRro(source, out.length);
    const access = m.readonly || m.recursiveReadOnly ? 'ro' : 'rw';
    out.push({ destination: path.normalize(m.containerPath), type: 'bind', source, options: ['rbind', propagation, access] });
    reported.push(m);
  }
  return { mounts: out, reported };
}

const depth = (p: string) => path.normalize(p).split('/').filter(Boolean).length;

/**
 * Puts it all together: defaults, then pod files, then CRI mounts; a CRI
 * mount replaces anything at the same destination, and a CRI /dev replaces
 * every default below /dev.
 */
export function mergeMounts(defaults: Mount[], pod: Mount[], cri: Mount[]): Mount[] {
  const criDests = new Set(cri.map((m) => m.destination));
  const criHasDev = criDests.has('/dev');
  const keep = (m: Mount) => !criDests.has(m.destination) && !(criHasDev && (m.destination === '/dev' || m.destination.startsWith('/dev/')));
  return [...defaults.filter(keep), ...pod.filter(keep), ...cri];
}
