import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { protoOutline } from '../scripts/proto-outline-lib.mjs';

/**
 * berth's proto against cri-api's, mechanically: the outline (every field's
 * name, number, type and label, every enum value and RPC) of
 * proto/cri/api.proto must equal the one scripts/proto-outline.mjs printed
 * for the upstream release, kept in proto/cri/upstream-v1.outline. With
 * BERTH_CRI_API_PROTO naming a copy of upstream's file, that outline is
 * derived again from it and checked too.
 */
const readText = (rel: string) => readFile(new URL(rel, import.meta.url), 'utf8');
const withoutComments = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('proto/cri/api.proto against cri-api', () => {
  it('has the outline of cri-api v0.36.3, line for line', async () => {
    const ours = protoOutline(await readText('../proto/cri/api.proto'));
    const upstream = withoutComments(await readText('../proto/cri/upstream-v1.outline'));
    expect(upstream.length).toBeGreaterThan(700);
    expect(ours).toEqual(upstream);
  });

  it('names the upstream file the outline came from, and the outline is that file’s', async () => {
    const [header, sha] = (await readText('../proto/cri/upstream-v1.outline')).split('\n');
    expect(header).toMatch(/^# kubernetes\/cri-api v0\.36\.3 pkg\/apis\/runtime\/v1\/api\.proto/);
    expect(sha).toMatch(/^# source sha256 [0-9a-f]{64}$/);
    const file = process.env.BERTH_CRI_API_PROTO;
    if (!file) return;
    const text = await readFile(file, 'utf8');
    expect(`# source sha256 ${createHash('sha256').update(text).digest('hex')}`).toBe(sha);
    expect(protoOutline(text)).toEqual(withoutComments(await readText('../proto/cri/upstream-v1.outline')));
  });

  it('tells a changed field type apart (the outline is not blind to it)', async () => {
    const ours = await readText('../proto/cri/api.proto');
    const changed = ours.replace(
      /message KeyValue \{\n(\s*)string key = 1;\n(\s*)bytes value = 2;/,
      'message KeyValue {\n$1string key = 1;\n$2string value = 2;',
    );
    expect(changed).not.toBe(ours);
    expect(protoOutline(changed)).toContain('field runtime.v1.KeyValue.value = 2 singular string');
    expect(protoOutline(changed)).not.toEqual(protoOutline(ours));
  });
});

/**
 * Kubernetes 1.20's own copy of v1alpha2, from the source tree the cluster
 * tests build (scripts/kubernetes/build.sh), when this machine has one.
 */
async function kubernetesV1alpha2(): Promise<string | undefined> {
  const cache = process.env.BERTH_K8S_CACHE ?? '/var/cache/berth-kubernetes';
  for (const version of await readdir(cache).catch(() => [] as string[])) {
    for (const tree of await readdir(path.join(cache, version, 'src')).catch(() => [] as string[])) {
      const file = path.join(cache, version, 'src', tree, 'staging/src/k8s.io/cri-api/pkg/apis/runtime/v1alpha2/api.proto');
      if (
        await readFile(file, 'utf8').then(
          () => true,
          () => false,
        )
      )
        return file;
    }
  }
  return undefined;
}

describe('proto/cri/v1alpha2.proto against cri-api', () => {
  it('has the outline of cri-api v0.25.16 v1alpha2, line for line', async () => {
    const ours = protoOutline(await readText('../proto/cri/v1alpha2.proto'));
    const upstream = withoutComments(await readText('../proto/cri/upstream-v1alpha2.outline'));
    expect(upstream.length).toBeGreaterThan(500);
    expect(ours).toEqual(upstream);
  });

  it('is a part of v1 on the wire, so v1 handlers serve it untranslated', async () => {
    const v1 = new Set(protoOutline(await readText('../proto/cri/api.proto')));
    const notInV1 = protoOutline(await readText('../proto/cri/v1alpha2.proto'))
      .map((l) => l.replaceAll('runtime.v1alpha2.', 'runtime.v1.'))
      .filter((l) => !v1.has(l));
    // string and bytes share a wire type; v1 made env values bytes in v0.36.3.
    expect(notInV1).toEqual(['field runtime.v1.KeyValue.value = 2 singular string']);
  });

  it("holds everything of the v1alpha2 Kubernetes 1.20's kubelet was built with, where the source is here", async () => {
    const file = process.env.BERTH_K8S_V1ALPHA2_PROTO ?? (await kubernetesV1alpha2());
    if (!file) return;
    const ours = new Set(protoOutline(await readText('../proto/cri/v1alpha2.proto')));
    const kubelets = protoOutline(await readFile(file, 'utf8'));
    expect(kubelets.length).toBeGreaterThan(400);
    expect(kubelets.filter((l) => !ours.has(l))).toEqual([]);
  });
});

describe('proto/nri/api.proto against containerd/nri', () => {
  it('has the outline of containerd/nri v0.8.0, line for line', async () => {
    const ours = protoOutline(await readText('../proto/nri/api.proto'));
    const upstream = withoutComments(await readText('../proto/nri/upstream-v0.8.0.outline'));
    expect(upstream.length).toBeGreaterThan(200);
    expect(ours).toEqual(upstream);
  });

  it('names the upstream file the outline came from', async () => {
    const [header, sha] = (await readText('../proto/nri/upstream-v0.8.0.outline')).split('\n');
    expect(header).toMatch(/^# containerd\/nri v0\.8\.0 pkg\/api\/api\.proto/);
    expect(sha).toMatch(/^# source sha256 [0-9a-f]{64}$/);
  });
});
