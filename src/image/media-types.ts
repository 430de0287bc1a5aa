/** Media types of the OCI image spec and Docker's schema 2. */
export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What berth asks a registry for, most preferred first. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', ');

export const isIndex = (mt: string) => mt === MT.ociIndex || mt === MT.dockerList;
export const isManifest = (mt: string) => mt === MT.ociManifest || mt === MT.dockerManifest;
export const isSchema1 = (mt: string) => mt === MT.dockerSchema1 || mt === MT.dockerSchema1Signed;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  /** Set on OCI artifacts (image-spec 1.1). */
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/**
 * An OCI artifact rather than an image: the manifest declares an
 * artifactType, or its config is not an image configuration (the empty
 * descriptor `application/vnd.oci.empty.v1+json`, a tool's own type). An
 * artifact can be an image volume, never a container's root filesystem.
 */
export function isArtifact(m: ImageManifest): boolean {
  return Boolean(m.artifactType) || (m.config.mediaType !== MT.ociConfig && m.config.mediaType !== MT.dockerConfig);
}

/** `type/subtype` as RFC 6838 allows it, parameters excluded. */
export const MEDIA_TYPE = /^[A-Za-z0-9][\w!#$&^.+-]{0,126}\/[A-Za-z0-9][\w!#$&^.+-]{0,126}$/;

export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/**
 * The file an artifact layer that is not a tar archive becomes: its
 * `org.opencontainers.image.title` when that is a plain file name (ORAS
 * sets it), else the digest's hex. A title cannot name a directory, a path
 * or a dot file outside the volume.
 */
export function artifactFileName(layer: Descriptor): string {
  const title = layer.annotations?.[TITLE_ANNOTATION];
  if (typeof title === 'string' && /^[^/\0]{1,255}$/.test(title) && title !== '.' && title !== '..') return title;
  return layer.digest.split(':')[1]!;
}

/** The parts of an image configuration berth reads. */
export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
  };
  rootfs?: { type: string; diff_ids: string[] };
  created?: string;
}

export function isLayerMediaType(mt: string): boolean {
  return mt.startsWith('application/vnd.oci.image.layer.') || mt.startsWith('application/vnd.docker.image.rootfs.');
}
