/**
 * Pod user namespaces (NamespaceOption.userns_options). NODE means the
 * host's; POD gives every container of the pod a user namespace with the
 * pod's single uid and gid mapping, which must map container id 0 (the
 * kubelet allocates the host range). CONTAINER and TARGET do not exist for
 * user namespaces.
 */

import { invalidArgument } from '../errors.js';
import type { IdMapping } from '../oci/spec-types.js';

export interface PodUserns {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

interface CriMapping {
  containerId: number;
  hostId: number;
  length: number;
}

export function podUserns(opts: { mode: string; uids: CriMapping[]; gids: CriMapping[] } | null | undefined): PodUserns | undefined {
  if (!opts || opts.mode === 'NODE') {
    if (opts && (opts.uids.length > 0 || opts.gids.length > 0)) throw invalidArgument('user namespace mode NODE takes no id mappings');
    return undefined;
  }
  if (opts.mode !== 'POD') throw invalidArgument(`user namespace mode ${opts.mode} is not supported (only NODE and POD)`);
  const check = (what: string, list: CriMapping[]): IdMapping[] => {
    if (list.length !== 1) throw invalidArgument(`user namespace: exactly one ${what} mapping is supported, got ${list.length}`);
    const m = list[0]!;
    if (m.containerId !== 0) throw invalidArgument(`user namespace: the ${what} mapping must map container id 0`);
    if (m.length <= 0 || m.hostId < 0) throw invalidArgument(`user namespace: invalid ${what} mapping`);
    return [{ containerID: m.containerId, hostID: m.hostId, size: m.length }];
  };
  return { uidMappings: check('uid', opts.uids), gidMappings: check('gid', opts.gids) };
}
