/**
 * CDI (Container Device Interface) spec files: a vendor's description of
 * devices (`kind` = `vendor.com/class`, devices by name) and of the edits
 * each one needs in a container's OCI spec (device nodes, mounts,
 * environment, hooks, extra groups). Spec versions 0.3.0 through 1.0.0 are
 * read, JSON or YAML; a field berth cannot apply (Intel RDT, network
 * devices) is refused by name rather than silently dropped.
 */

import { parse as parseYaml } from 'yaml';
import { invalidArgument } from '../errors.js';
import { HOOK_STAGES } from '../oci/spec-types.js';

export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: 'c' | 'b' | 'u' | 'p';
  major?: number;
  minor?: number;
  fileMode?: number;
  permissions?: string;
  uid?: number;
  gid?: number;
}

export interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string;
  options?: string[];
}

export interface CdiHook {
  hookName: (typeof HOOK_STAGES)[number];
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface ContainerEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  mounts?: CdiMount[];
  hooks?: CdiHook[];
  additionalGids?: number[];
}

export interface CdiSpec {
  file: string;
  kind: string;
  devices: Map<string, ContainerEdits>;
  edits: ContainerEdits;
}

export const SUPPORTED_CDI_VERSIONS = ['0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0'];
/** `vendor.com/class`: a domain-like vendor, then a class name. */
export const KIND = /^[A-Za-z0-9][A-Za-z0-9.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidArgument(`${where} must be a list of strings`);
  return v as string[];
}

function int(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalidArgument(`${where} must be a non-negative integer`);
  return v;
}

function absolute(v: unknown, where: string): string {
  if (typeof v !== 'string' || !v.startsWith('/')) throw invalidArgument(`${where} must be an absolute path`);
  return v;
}

function parseEdits(raw: unknown, where: string): ContainerEdits {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw invalidArgument(`${where} must be an object`);
  for (const unsupported of ['intelRdt', 'netDevices']) {
    if (raw[unsupported] !== undefined) throw invalidArgument(`${where}.${unsupported} is not supported by berth`);
  }
  const edits: ContainerEdits = {};
  const env = strings(raw.env, `${where}.env`);
  if (env) {
    for (const e of env) if (!e.includes('=')) throw invalidArgument(`${where}.env entry "${e}" is not NAME=value`);
    edits.env = env;
  }
  if (raw.deviceNodes !== undefined && raw.deviceNodes !== null) {
    if (!Array.isArray(raw.deviceNodes)) throw invalidArgument(`${where}.deviceNodes must be a list`);
    edits.deviceNodes = raw.deviceNodes.map((d: unknown, i) => {
      const w = `${where}.deviceNodes[${i}]`;
      if (!isObject(d)) throw invalidArgument(`${w} must be an object`);
      const type = d.type;
      if (type !== undefined && type !== '' && type !== 'c' && type !== 'b' && type !== 'u' && type !== 'p')
        throw invalidArgument(`${w}.type must be b, c, u or p`);
      if (d.permissions !== undefined && (typeof d.permissions !== 'string' || !/^[rwm]{0,3}$/.test(d.permissions))) {
        throw invalidArgument(`${w}.permissions must be made of r, w and m`);
      }
      const node: CdiDeviceNode = { path: absolute(d.path, `${w}.path`) };
      if (d.hostPath !== undefined && d.hostPath !== '') node.hostPath = absolute(d.hostPath, `${w}.hostPath`);
      if (type) node.type = type as CdiDeviceNode['type'];
      for (const k of ['major', 'minor', 'fileMode', 'uid', 'gid'] as const) {
        const n = int(d[k], `${w}.${k}`);
        if (n !== undefined) node[k] = n;
      }
      if (typeof d.permissions === 'string' && d.permissions) node.permissions = d.permissions;
      return node;
    });
  }
  if (raw.mounts !== undefined && raw.mounts !== null) {
    if (!Array.isArray(raw.mounts)) throw invalidArgument(`${where}.mounts must be a list`);
    edits.mounts = raw.mounts.map((m: unknown, i) => {
      const w = `${where}.mounts[${i}]`;
      if (!isObject(m)) throw invalidArgument(`${w} must be an object`);
      const mount: CdiMount = { hostPath: absolute(m.hostPath, `${w}.hostPath`), containerPath: absolute(m.containerPath, `${w}.containerPath`) };
      if (typeof m.type === 'string' && m.type) mount.type = m.type;
      const options = strings(m.options, `${w}.options`);
      if (options) mount.options = options;
      return mount;
    });
  }
  if (raw.hooks !== undefined && raw.hooks !== null) {
    if (!Array.isArray(raw.hooks)) throw invalidArgument(`${where}.hooks must be a list`);
    edits.hooks = raw.hooks.map((h: unknown, i) => {
      const w = `${where}.hooks[${i}]`;
      if (!isObject(h)) throw invalidArgument(`${w} must be an object`);
      if (!(HOOK_STAGES as readonly string[]).includes(h.hookName as string))
        throw invalidArgument(`${w}.hookName ${JSON.stringify(h.hookName)} is not an OCI hook stage`);
      const hook: CdiHook = { hookName: h.hookName as CdiHook['hookName'], path: absolute(h.path, `${w}.path`) };
      const args = strings(h.args, `${w}.args`);
      const env = strings(h.env, `${w}.env`);
      const timeout = int(h.timeout, `${w}.timeout`);
      if (args) hook.args = args;
      if (env) hook.env = env;
      if (timeout) hook.timeout = timeout;
      return hook;
    });
  }
  const gids = raw.additionalGIDs;
  if (gids !== undefined && gids !== null) {
    if (!Array.isArray(gids)) throw invalidArgument(`${where}.additionalGIDs must be a list`);
    edits.additionalGids = gids.map((g: unknown, i) => int(g, `${where}.additionalGIDs[${i}]`)!);
  }
  return edits;
}

/** Parses one spec file (JSON, or YAML for `.yaml`/`.yml`); throws saying what is wrong. */
export function parseCdiSpec(file: string, text: string): CdiSpec {
  let raw: unknown;
  try {
    raw = /\.ya?ml$/.test(file) ? parseYaml(text, { maxAliasCount: 16 }) : JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`not valid ${/\.ya?ml$/.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw invalidArgument('not an object');
  if (typeof raw.cdiVersion !== 'string' || !SUPPORTED_CDI_VERSIONS.includes(raw.cdiVersion)) {
    throw invalidArgument(`unsupported cdiVersion ${JSON.stringify(raw.cdiVersion)} (berth reads ${SUPPORTED_CDI_VERSIONS.join(', ')})`);
  }
  if (typeof raw.kind !== 'string' || !KIND.test(raw.kind)) throw invalidArgument(`kind ${JSON.stringify(raw.kind)} is not vendor.com/class`);
  if (!Array.isArray(raw.devices) || raw.devices.length === 0) throw invalidArgument('"devices" must be a non-empty list');
  const devices = new Map<string, ContainerEdits>();
  for (const [i, d] of raw.devices.entries()) {
    if (!isObject(d) || typeof d.name !== 'string' || !DEVICE_NAME.test(d.name)) throw invalidArgument(`devices[${i}] has no valid name`);
    if (devices.has(d.name)) throw invalidArgument(`device "${d.name}" is defined twice`);
    devices.set(d.name, parseEdits(d.containerEdits, `devices[${i}].containerEdits`));
  }
  return { file, kind: raw.kind, devices, edits: parseEdits(raw.containerEdits, 'containerEdits') };
}
