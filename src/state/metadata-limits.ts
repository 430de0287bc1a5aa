import { invalidArgument, resourceExhausted } from '../errors.js';

/**
 * Bounds on what clients store with a pod or container and get back in
 * every List answer. Without them one client could store so much that
 * ListPodSandbox or ListContainers no longer fits a gRPC message, and the
 * kubelet's relist (which receives at most 16 MiB) fails for every pod on
 * the node.
 */
export interface MetadataLimits {
  /** Labels, annotations and names of one pod or one container, in bytes. */
  max_metadata_size: number;
  /** One RunPodSandbox or CreateContainer config as berth stores it (JSON), in bytes. */
  max_config_size: number;
  /** The metadata of all pods together, and of all containers together, in bytes. */
  max_listed_metadata_size: number;
}

export interface ListedMetadata {
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  /** Other client-chosen strings the List answer repeats (name, namespace, uid, image). */
  strings: readonly string[];
}

const mapBytes = (m: Record<string, string> | null | undefined) =>
  Object.entries(m ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

/** The bytes a pod's or container's metadata adds to each List answer (keys and values, no framing). */
export function metadataSize(m: ListedMetadata): number {
  return mapBytes(m.labels) + mapBytes(m.annotations) + m.strings.reduce((n, s) => n + Buffer.byteLength(s), 0);
}

/** Sizes of records already kept, by their (immutable) meta object: a create sums them all. */
const KEPT_SIZES = new WeakMap<object, number>();

/** `metadataSize` of a kept record's metadata, computed once per record. */
export function keptMetadataSize(meta: object, listed: () => ListedMetadata): number {
  let size = KEPT_SIZES.get(meta);
  if (size === undefined) {
    size = metadataSize(listed());
    KEPT_SIZES.set(meta, size);
  }
  return size;
}

/**
 * Checks a new pod's or container's metadata and config against the limits,
 * given the metadata size of those of its kind that exist: INVALID_ARGUMENT
 * when the object alone is too large, RESOURCE_EXHAUSTED when it would push
 * the node's List answer past its bound.
 */
export function checkMetadata(what: string, meta: ListedMetadata, config: unknown, existing: Iterable<number>, limits: MetadataLimits): number {
  const size = metadataSize(meta);
  if (size > limits.max_metadata_size) {
    throw invalidArgument(
      `${what}: labels, annotations and names take ${size} bytes; at most ${limits.max_metadata_size} are allowed (runtime.max_metadata_size)`,
    );
  }
  const configSize = Buffer.byteLength(JSON.stringify(config));
  if (configSize > limits.max_config_size) {
    throw invalidArgument(`${what}: the config takes ${configSize} bytes; at most ${limits.max_config_size} are allowed (runtime.max_config_size)`);
  }
  let total = size;
  for (const n of existing) total += n;
  if (total > limits.max_listed_metadata_size) {
    throw resourceExhausted(
      `${what}: its ${size} bytes of labels, annotations and names would bring those of this kind on the node to ${total}; at most ${limits.max_listed_metadata_size} are kept so that List answers fit the kubelet's messages (runtime.max_listed_metadata_size)`,
    );
  }
  return size;
}
