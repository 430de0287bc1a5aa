import { performance } from 'node:perf_hooks';

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

interface Descriptor {
  digest: string;
}

/**
 * The HTTP floor of a small pull: the manifest, the config and every
 * layer of a single-platform image fetched from a plain-HTTP registry one
 * after another, bodies read to the end and nothing else done with them.
 * What a runtime's cold pull costs beyond this is its own work.
 */
export async function httpTransferMs(registry: string, repo: string, tag: string, runs: number): Promise<number[]> {
  const base = `http://${registry}/v2/${repo}`;
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}/manifests/${tag}`, { headers: { accept: ACCEPT } });
    if (!res.ok) throw new Error(`manifest ${repo}:${tag}: HTTP ${res.status}`);
    const manifest = (await res.json()) as { config?: Descriptor; layers?: Descriptor[] };
    if (!manifest.config || !manifest.layers) throw new Error(`${repo}:${tag} is not a single-platform image`);
    for (const d of [manifest.config, ...manifest.layers]) {
      const blob = await fetch(`${base}/blobs/${d.digest}`);
      if (!blob.ok) throw new Error(`blob ${d.digest}: HTTP ${blob.status}`);
      await blob.arrayBuffer();
    }
    out.push(performance.now() - t0);
  }
  return out;
}
