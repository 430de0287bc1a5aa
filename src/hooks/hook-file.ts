/**
 * OCI hook configuration files (oci-hooks(5), schema 1.0.0, as CRI-O and
 * podman read them through containers/common): which program to inject,
 * at which stages, and when. A file is validated as containers/common
 * validates it: a known version, an absolute hook path that exists, at
 * least one condition, conditions that compile, known stages.
 */

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../errors.js';
import { HOOK_STAGES, type Hook, type HookStage } from '../oci/spec-types.js';

export interface HookDefinition {
  /** The file it came from (for logs). */
  file: string;
  hook: Hook;
  when: {
    always?: boolean;
    annotations?: [RegExp, RegExp][];
    commands?: RegExp[];
    hasBindMounts?: boolean;
  };
  stages: HookStage[];
}

/** What a container (or pod) offers the conditions. */
export interface HookSubject {
  annotations: Record<string, string>;
  /** `process.args[0]`, or '' for a pod without a process of its own. */
  command: string;
  hasBindMounts: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function regex(pattern: unknown, where: string): RegExp {
  if (typeof pattern !== 'string') throw invalidArgument(`${where} must be a string`);
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw invalidArgument(`${where}: invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

function stringList(v: unknown, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidArgument(`${where} must be a list of strings`);
  return v as string[];
}

/** Parses and validates one file; throws saying what is wrong with it. */
export async function parseHookFile(file: string, text: string): Promise<HookDefinition> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw invalidArgument('not a JSON object');
  if (raw.version !== '1.0.0') throw invalidArgument(`unsupported version ${JSON.stringify(raw.version)} (berth reads 1.0.0)`);
  const h = raw.hook;
  if (!isObject(h)) throw invalidArgument('"hook" must be an object');
  if (typeof h.path !== 'string' || !path.isAbsolute(h.path)) throw invalidArgument('"hook.path" must be an absolute path');
  const st = await stat(h.path).catch(() => undefined);
  if (!st?.isFile()) throw invalidArgument(`hook.path ${h.path} does not exist`);
  const hook: Hook = { path: h.path };
  const args = stringList(h.args, '"hook.args"');
  const env = stringList(h.env, '"hook.env"');
  if (args) hook.args = args;
  if (env) hook.env = env;
  if (h.timeout !== undefined) {
    if (typeof h.timeout !== 'number' || !Number.isInteger(h.timeout) || h.timeout <= 0) throw invalidArgument('"hook.timeout" must be a positive integer');
    hook.timeout = h.timeout;
  }
  const w = raw.when;
  if (!isObject(w)) throw invalidArgument('"when" must be an object');
  const when: HookDefinition['when'] = {};
  if (w.always !== undefined) {
    if (typeof w.always !== 'boolean') throw invalidArgument('"when.always" must be true or false');
    when.always = w.always;
  }
  if (w.annotations !== undefined) {
    if (!isObject(w.annotations)) throw invalidArgument('"when.annotations" must be an object');
    when.annotations = Object.entries(w.annotations).map(([k, v]) => [regex(k, '"when.annotations" key'), regex(v, `"when.annotations" value of ${k}`)]);
  }
  if (w.commands !== undefined) when.commands = (stringList(w.commands, '"when.commands"') ?? []).map((c) => regex(c, '"when.commands" entry'));
  if (w.hasBindMounts !== undefined) {
    if (typeof w.hasBindMounts !== 'boolean') throw invalidArgument('"when.hasBindMounts" must be true or false');
    when.hasBindMounts = w.hasBindMounts;
  }
  if (Object.keys(when).length === 0) throw invalidArgument('"when" sets no condition');
  const stages = stringList(raw.stages, '"stages"');
  if (!stages || stages.length === 0) throw invalidArgument('"stages" must list at least one stage');
  for (const s of stages) if (!(HOOK_STAGES as readonly string[]).includes(s)) throw invalidArgument(`unknown stage ${JSON.stringify(s)}`);
  return { file, hook, when, stages: stages as HookStage[] };
}

/** Whether every condition the definition sets holds (oci-hooks(5): "all of the conditions set in when"). */
export function hookMatches(def: HookDefinition, subject: HookSubject): boolean {
  const { when } = def;
  if (when.always !== undefined && !when.always) return false;
  if (when.annotations) {
    const pairs = Object.entries(subject.annotations);
    const all = when.annotations.every(([k, v]) => pairs.some(([key, value]) => k.test(key) && v.test(value)));
    if (!all) return false;
  }
  if (when.commands && !when.commands.some((c) => c.test(subject.command))) return false;
  if (when.hasBindMounts !== undefined && when.hasBindMounts && !subject.hasBindMounts) return false;
  return true;
}
