/**
 * `berth check [--repair]`: is the state on disk consistent, as `crio
 * check` asks of CRI-O's storage? It reads the layout itself (the stores'
 * own start-up repairs what it finds, and a check must change nothing):
 * every content blob against its digest, every image record against its
 * blobs and snapshots, every snapshot's metadata and link, every
 * container and pod record, every container the OCI runtimes hold in
 * berth's runtime roots, and what no record references any more.
 * `--repair` removes the broken and the orphaned, saying what (a runtime's
 * container through the runtime: `delete --force`, which kills what still
 * runs); it refuses to run while the daemon serves, which holds the same
 * state in memory.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { constants } from 'node:fs';
import { access, readFile, readdir, readlink, rm } from 'node:fs/promises';
import path from 'node:path';
import { type BerthConfig, runtimeRootOf } from './config/schema.js';
import { errnoCode, messageOf } from './errors.js';
import { classifyRuntimeFailure } from './oci/runtime-errors.js';
import { failureText, runCommand } from './util/exec.js';

/** A container an OCI runtime holds in its root: repaired through the runtime, not by deleting files. */
export interface RuntimeContainer {
  runtime: string;
  path: string;
  root: string;
  id: string;
}

export interface Finding {
  kind: 'broken' | 'orphan';
  path: string;
  why: string;
  /** The runtime's container to kill and delete before `path` goes. */
  runtime?: RuntimeContainer;
}

const readJson = async (file: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
const list = (dir: string) => readdir(dir).catch(() => [] as string[]);

async function digestOf(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function checkState(config: BerthConfig): Promise<Finding[]> {
  const found: Finding[] = [];
  const storage = path.join(config.root, 'storage');
  const broken = (p: string, why: string) => found.push({ kind: 'broken', path: p, why });
  const orphan = (p: string, why: string) => found.push({ kind: 'orphan', path: p, why });

  // Content blobs: each file's content must hash to its name.
  const blobs = new Set<string>();
  for (const algorithm of await list(path.join(storage, 'blobs'))) {
    for (const hex of await list(path.join(storage, 'blobs', algorithm))) {
      const file = path.join(storage, 'blobs', algorithm, hex);
      const actual = await digestOf(file, algorithm).catch(() => '');
      if (actual !== hex) broken(file, actual ? `content hashes to ${algorithm}:${actual}` : 'unreadable');
      else blobs.add(`${algorithm}:${hex}`);
    }
  }
  // Snapshots: metadata naming their own chain ID, a layer directory, a link.
  const snapshots = new Set<string>();
  for (const name of await list(path.join(storage, 'snapshots'))) {
    const dir = path.join(storage, 'snapshots', name);
    if (name.startsWith('.')) {
      orphan(dir, 'an interrupted unpack or removal');
      continue;
    }
    const meta = await readJson(path.join(dir, 'meta.json')).catch(() => undefined);
    if (meta?.chainId !== `sha256:${name}`) {
      broken(dir, 'no readable metadata naming this snapshot');
      continue;
    }
    if (
      !(await readdir(path.join(dir, 'fs')).then(
        () => true,
        () => false,
      ))
    )
      broken(dir, 'no layer directory');
    else snapshots.add(meta.chainId as string);
    const link = path.join(storage, 'l', name.slice(0, 16));
    if ((await readlink(link).catch(() => '')) !== `../snapshots/${name}/fs`) broken(link, `missing or wrong link to snapshot ${name.slice(0, 12)}`);
  }
  // Image records: their blobs and snapshots present.
  const usedBlobs = new Set<string>();
  const usedSnapshots = new Set<string>();
  for (const name of await list(path.join(storage, 'images'))) {
    const file = path.join(storage, 'images', name);
    const record = await readJson(file).catch(() => undefined);
    if (!record || typeof record.id !== 'string' || !Array.isArray(record.layers)) {
      broken(file, 'unreadable image record');
      continue;
    }
    for (const digest of [record.id, record.manifestDigest, record.indexDigest]) {
      if (typeof digest !== 'string') continue;
      usedBlobs.add(digest);
      if (!blobs.has(digest)) broken(file, `image ${record.id.slice(7, 19)} needs blob ${digest}, which is missing or corrupt`);
    }
    for (const layer of record.layers as { chainId?: string }[]) {
      if (typeof layer.chainId !== 'string') continue;
      usedSnapshots.add(layer.chainId);
      if (!snapshots.has(layer.chainId)) broken(file, `image ${record.id.slice(7, 19)} needs layer ${layer.chainId}, which is missing or broken`);
    }
  }
  // Pods and containers: readable records, containers of existing pods.
  const pods = new Set<string>();
  for (const id of await list(path.join(config.root, 'sandboxes'))) {
    const dir = path.join(config.root, 'sandboxes', id);
    if ((await readJson(path.join(dir, 'meta.json')).catch(() => undefined)) === undefined) broken(dir, 'unreadable pod record');
    else pods.add(id);
  }
  const held = await runtimeContainers(config);
  const containers = new Set<string>();
  const unreadable = new Set<string>();
  for (const id of await list(path.join(config.root, 'containers'))) {
    const dir = path.join(config.root, 'containers', id);
    const meta = await readJson(path.join(dir, 'meta.json')).catch(() => undefined);
    if (!meta || (await readJson(path.join(dir, 'status.json')).catch(() => undefined)) === undefined) {
      unreadable.add(id);
      const runtime = held.find((c) => c.id === id);
      if (!runtime) broken(dir, 'unreadable container record');
      else
        found.push({
          kind: 'broken',
          path: dir,
          why: `unreadable container record; ${runtime.runtime} still holds container ${id.slice(0, 12)}, which berth's start-up (or --repair) kills and deletes`,
          runtime,
        });
      continue;
    }
    containers.add(id);
    for (const chainId of (meta.chainIds as string[] | undefined) ?? []) {
      usedSnapshots.add(chainId);
      if (!snapshots.has(chainId)) broken(dir, `container ${id.slice(0, 12)} needs layer ${chainId}, which is missing or broken`);
    }
    if (typeof meta.sandboxId === 'string' && !pods.has(meta.sandboxId))
      orphan(dir, `container ${id.slice(0, 12)} of pod ${meta.sandboxId.slice(0, 12)}, which is gone`);
  }
  // What nothing references.
  for (const digest of blobs) if (!usedBlobs.has(digest)) orphan(path.join(storage, 'blobs', ...digest.split(':')), 'a blob no image uses');
  for (const chainId of snapshots)
    if (!usedSnapshots.has(chainId)) orphan(path.join(storage, 'snapshots', chainId.slice(7)), 'a layer no image or container uses');
  for (const id of await list(path.join(config.runroot, 'containers'))) {
    if (!containers.has(id)) orphan(path.join(config.runroot, 'containers', id), 'a container bundle without a record');
  }
  for (const c of held) {
    if (containers.has(c.id) || unreadable.has(c.id)) continue;
    // A root set outside berth's runroot may be shared (podman's /run/runc): its other containers are not berth's.
    if (!isInside(c.root, config.runroot)) continue;
    found.push({ kind: 'orphan', path: path.join(c.root, c.id), why: `a ${c.runtime} container without a record`, runtime: c });
  }
  for (const id of await list(path.join(config.runroot, 'sandboxes'))) {
    if (!pods.has(id)) orphan(path.join(config.runroot, 'sandboxes', id), 'a pod run directory without a record');
  }
  return found;
}

/**
 * The containers each configured runtime holds in its root: one
 * directory per container id (runc's and crun's layout), read rather
 * than asked, as the check changes nothing and needs no runtime.
 */
async function runtimeContainers(config: BerthConfig): Promise<RuntimeContainer[]> {
  const roots = new Set<string>();
  const held: RuntimeContainer[] = [];
  for (const [name, handler] of Object.entries(config.runtimes)) {
    const root = runtimeRootOf(config, name);
    if (roots.has(root)) continue;
    roots.add(root);
    for (const id of await list(root)) if (!id.startsWith('.')) held.push({ runtime: name, path: handler.runtime_path, root, id });
  }
  return held;
}

const isInside = (p: string, dir: string) => !path.relative(dir, p).startsWith('..') && !path.isAbsolute(path.relative(dir, p));

/** `<runtime> --root <root> delete --force <id>`: kills what runs, then deletes. */
async function deleteThroughRuntime(c: RuntimeContainer): Promise<string | undefined> {
  try {
    const res = await runCommand(c.path, [`--root=${c.root}`, 'delete', '--force', c.id], { timeoutMs: 30_000 });
    // Already gone from the runtime: what is left are files.
    return res.code === 0 || classifyRuntimeFailure(failureText(res)) === 'gone' ? undefined : failureText(res);
  } catch (err) {
    return messageOf(err);
  }
}

/**
 * Why the state cannot be checked at all, with the exit status to give:
 * the directories are read as lists that may be empty, so a root that is
 * not there, or not readable, would otherwise pass as consistent.
 */
async function uncheckable(root: string): Promise<{ why: string; status: number } | undefined> {
  try {
    await access(root, constants.R_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { why: `no state at ${root} (berth has never run with this root?); nothing to check`, status: 2 };
    const reason = errnoCode(err) === 'EACCES' || errnoCode(err) === 'EPERM' ? 'permission denied (try sudo)' : messageOf(err);
    return { why: `cannot read the state under ${root}: ${reason}`, status: 1 };
  }
}

export async function checkCommand(
  config: BerthConfig,
  repair: boolean,
  daemonAnswers: () => Promise<boolean>,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream = out,
): Promise<number> {
  const refused = await uncheckable(config.root);
  if (refused) {
    err.write(`berth: ${refused.why}\n`);
    return refused.status;
  }
  if (repair && (await daemonAnswers())) {
    out.write(`berth: the daemon serves on ${config.listen}: stop it before --repair (it holds this state in memory)\n`);
    return 2;
  }
  const findings = await checkState(config);
  for (const f of findings) out.write(`${f.kind.padEnd(7)} ${f.path}: ${f.why}\n`);
  if (findings.length === 0) {
    out.write(`the state under ${config.root} and ${config.runroot} is consistent\n`);
    return 0;
  }
  if (!repair) {
    out.write(`${findings.length} problem(s); berth check --repair removes them\n`);
    return 1;
  }
  // Each finding names a whole entry (a file or a directory) that nothing
  // can use as it is. Anything with a mount below it is left for the
  // daemon's own start-up, which unmounts before it deletes.
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
  const done = new Set<string>();
  let left = 0;
  for (const f of findings) {
    if (done.has(f.path)) continue;
    done.add(f.path);
    if (f.runtime) {
      const failed = await deleteThroughRuntime(f.runtime);
      if (failed) {
        out.write(`kept    ${f.path}: ${f.runtime.runtime} delete --force ${f.runtime.id} failed: ${failed}\n`);
        left++;
        continue;
      }
      out.write(`deleted ${f.runtime.runtime} container ${f.runtime.id}\n`);
    }
    if (mounts.some((m) => m === f.path || m.startsWith(`${f.path}/`))) {
      out.write(`kept    ${f.path}: something is mounted below it; starting berth releases it\n`);
      left++;
      continue;
    }
    await rm(f.path, { recursive: true, force: true });
    out.write(`removed ${f.path}\n`);
  }
  return left > 0 ? 1 : 0;
}
