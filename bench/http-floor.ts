import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

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
export function httpTransferMs(registry: string, repo: string, tag: string, runs: number): Promise<number[]> {
  return timedFetches(registry, repo, tag, runs, async (blob) => {
    await blob.arrayBuffer();
  });
}

/**
 * The same fetches with each layer streamed into GNU `tar -xzpf -` in a
 * fresh directory as it arrives: the floor of a pull that also unpacks,
 * with no digest checked and nothing recorded.
 */
export async function httpUnpackMs(registry: string, repo: string, tag: string, runs: number, dir: string): Promise<number[]> {
  try {
    return await timedFetches(
      registry,
      repo,
      tag,
      runs,
      async (blob, isLayer) => {
        if (!isLayer || !blob.body) return void (await blob.arrayBuffer());
        const tar = spawn('tar', ['-xzpf', '-', '-C', dir], { stdio: ['pipe', 'ignore', 'ignore'] });
        const exited = new Promise<void>((resolve, reject) => {
          tar.once('error', reject);
          tar.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited with ${code}`))));
        });
        await pipeline(Readable.fromWeb(blob.body as import('node:stream/web').ReadableStream<Uint8Array>), tar.stdin);
        await exited;
      },
      async () => {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function timedFetches(
  registry: string,
  repo: string,
  tag: string,
  runs: number,
  consume: (blob: Response, isLayer: boolean) => Promise<void>,
  before: () => Promise<void> = async () => undefined,
): Promise<number[]> {
  const base = `http://${registry}/v2/${repo}`;
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    await before();
    const t0 = performance.now();
    const res = await fetch(`${base}/manifests/${tag}`, { headers: { accept: ACCEPT } });
    if (!res.ok) throw new Error(`manifest ${repo}:${tag}: HTTP ${res.status}`);
    const manifest = (await res.json()) as { config?: Descriptor; layers?: Descriptor[] };
    if (!manifest.config || !manifest.layers) throw new Error(`${repo}:${tag} is not a single-platform image`);
    for (const d of [manifest.config, ...manifest.layers]) {
      const blob = await fetch(`${base}/blobs/${d.digest}`);
      if (!blob.ok) throw new Error(`blob ${d.digest}: HTTP ${blob.status}`);
      await consume(blob, d !== manifest.config);
    }
    out.push(performance.now() - t0);
  }
  return out;
}
