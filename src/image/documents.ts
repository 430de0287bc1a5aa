import { failedPrecondition } from '../errors.js';
import { checkDigest, checkSize } from '../registry/bounded-body.js';
import type { Descriptor, ImageConfigFile, ImageIndex, ImageManifest, Platform } from './media-types.js';

/**
 * The image documents a registry sends (index, manifest, config), read as
 * untrusted JSON: each comes back with the shape its type promises or the
 * pull is refused with FAILED_PRECONDITION naming the image and the field.
 * A wrong type is refused, as Go's decoder refuses it in containerd and
 * CRI-O; JSON null stands for an absent field, as it does there. Fields
 * berth never reads are not looked at.
 */

type Json = Record<string, unknown>;

function parseObject(body: Buffer, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw failedPrecondition(`${what} is not valid JSON`);
  }
  if (!isObject(value)) throw failedPrecondition(`${what} is not a JSON object`);
  return value;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalString(obj: Json, key: string, what: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw failedPrecondition(`${what}: "${key}" is not a string`);
  return v;
}

function requiredString(obj: Json, key: string, what: string): string {
  const v = optionalString(obj, key, what);
  if (v === undefined) throw failedPrecondition(`${what}: "${key}" is missing`);
  return v;
}

function optionalStrings(obj: Json, key: string, what: string): string[] | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw failedPrecondition(`${what}: "${key}" is not a list of strings`);
  return v as string[];
}

function optionalStringMap(obj: Json, key: string, what: string): Record<string, string> | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || !Object.values(v).every((s) => typeof s === 'string')) throw failedPrecondition(`${what}: "${key}" is not a map of strings`);
  return Object.assign(Object.create(null) as Record<string, string>, v);
}

/** A set written as an object of empty objects (ExposedPorts, Volumes): only its keys count. */
function optionalKeySet(obj: Json, key: string, what: string): Record<string, object> | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw failedPrecondition(`${what}: "${key}" is not an object`);
  const out = Object.create(null) as Record<string, object>;
  for (const k of Object.keys(v)) out[k] = {};
  return out;
}

function descriptor(value: unknown, what: string): Descriptor {
  if (!isObject(value)) throw failedPrecondition(`${what} is not a descriptor object`);
  const d: Descriptor = {
    mediaType: optionalString(value, 'mediaType', what) ?? '',
    // Only its type here: the full digest check is the puller's, on the descriptors it follows.
    digest: requiredString(value, 'digest', what),
    size: checkSize(value.size, `${what} ${String(value.digest).slice(0, 80)}`),
  };
  const annotations = optionalStringMap(value, 'annotations', what);
  if (annotations) d.annotations = annotations;
  const urls = optionalStrings(value, 'urls', what);
  if (urls) d.urls = urls;
  if (value.platform !== undefined && value.platform !== null) d.platform = platform(value.platform, what);
  return d;
}

function platform(value: unknown, what: string): Platform {
  if (!isObject(value)) throw failedPrecondition(`${what}: "platform" is not an object`);
  const p: Platform = { os: optionalString(value, 'os', what) ?? '', architecture: optionalString(value, 'architecture', what) ?? '' };
  const variant = optionalString(value, 'variant', what);
  if (variant !== undefined) p.variant = variant;
  const osVersion = optionalString(value, 'os.version', what);
  if (osVersion !== undefined) p['os.version'] = osVersion;
  return p;
}

function descriptors(obj: Json, key: string, what: string): Descriptor[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw failedPrecondition(`${what}: "${key}" is not a list`);
  return v.map((d, i) => descriptor(d, `${what}: ${key}[${i}]`));
}

/** 2, the only version there is; a document that leaves it out is taken as 2. */
function schemaVersion(obj: Json, what: string): number {
  if (obj.schemaVersion !== undefined && obj.schemaVersion !== 2)
    throw failedPrecondition(`${what}: schemaVersion ${JSON.stringify(obj.schemaVersion)?.slice(0, 20)} is not 2`);
  return 2;
}

/** An OCI image index or a Docker manifest list. */
export function parseIndex(body: Buffer, name: string): ImageIndex {
  const what = `${name}: image index`;
  const obj = parseObject(body, what);
  if (!Array.isArray(obj.manifests)) throw failedPrecondition(`${what} has no list of manifests`);
  return { schemaVersion: schemaVersion(obj, what), mediaType: optionalString(obj, 'mediaType', what), manifests: descriptors(obj, 'manifests', what) };
}

/** An OCI image manifest or a Docker schema 2 manifest (an artifact's too). */
export function parseManifest(body: Buffer, name: string): ImageManifest {
  const what = `${name}: image manifest`;
  const obj = parseObject(body, what);
  if (obj.config === undefined || obj.config === null || !Array.isArray(obj.layers)) throw failedPrecondition(`${what} has no config or no list of layers`);
  const manifest: ImageManifest = {
    schemaVersion: schemaVersion(obj, what),
    mediaType: optionalString(obj, 'mediaType', what),
    config: descriptor(obj.config, `${what}: config`),
    layers: descriptors(obj, 'layers', what),
  };
  const artifactType = optionalString(obj, 'artifactType', what);
  if (artifactType) manifest.artifactType = artifactType;
  return manifest;
}

/** An image configuration: the parts berth reads, each of the type the spec gives it. */
export function parseImageConfig(body: Buffer, what: string): ImageConfigFile {
  const obj = parseObject(body, what);
  const out: ImageConfigFile = {};
  const architecture = optionalString(obj, 'architecture', what);
  if (architecture !== undefined) out.architecture = architecture;
  const os = optionalString(obj, 'os', what);
  if (os !== undefined) out.os = os;
  const created = optionalString(obj, 'created', what);
  if (created !== undefined) out.created = created;
  if (obj.config !== undefined && obj.config !== null) {
    if (!isObject(obj.config)) throw failedPrecondition(`${what}: "config" is not an object`);
    const c = obj.config;
    const cw = `${what}: config`;
    out.config = {};
    const strings = { User: optionalString(c, 'User', cw), WorkingDir: optionalString(c, 'WorkingDir', cw), StopSignal: optionalString(c, 'StopSignal', cw) };
    for (const [k, v] of Object.entries(strings)) if (v !== undefined) out.config[k as keyof typeof strings] = v;
    const env = optionalStrings(c, 'Env', cw);
    if (env) out.config.Env = env;
    if (c.Entrypoint !== undefined) out.config.Entrypoint = optionalStrings(c, 'Entrypoint', cw) ?? null;
    if (c.Cmd !== undefined) out.config.Cmd = optionalStrings(c, 'Cmd', cw) ?? null;
    if (c.Labels !== undefined) out.config.Labels = optionalStringMap(c, 'Labels', cw) ?? null;
    const ports = optionalKeySet(c, 'ExposedPorts', cw);
    if (ports) out.config.ExposedPorts = ports;
    const volumes = optionalKeySet(c, 'Volumes', cw);
    if (volumes) out.config.Volumes = volumes;
  }
  if (obj.rootfs !== undefined && obj.rootfs !== null) {
    if (!isObject(obj.rootfs)) throw failedPrecondition(`${what}: "rootfs" is not an object`);
    const diffIds = optionalStrings(obj.rootfs, 'diff_ids', `${what}: rootfs`) ?? [];
    out.rootfs = {
      type: optionalString(obj.rootfs, 'type', `${what}: rootfs`) ?? '',
      diff_ids: diffIds.map((d, i) => checkDigest(d, `${what}: diff ID ${i}`)),
    };
  }
  return out;
}
