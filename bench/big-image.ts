import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { TarInput } from '../test/support/tar-writer.js';
import { createTar } from '../test/support/tar-writer.js';
import { buildImage, type BuiltLayer, pushImage } from '../e2e/fixtures/image-builder.js';
import { digestOf } from '../e2e/lib/push.js';
import type { TestRegistry } from '../e2e/lib/registry.js';
import { timed } from './measure.js';

const gzipAsync = promisify(gzip);

/**
 * The pull workload's image: six gzip layers, together more than 100 MB
 * compressed, shaped like application layers rather than one blob: a few
 * large incompressible files (binaries, archives), many mid-sized text
 * files that compress about 3:1, and many small ones. The content is random
 * per run, so no cache anywhere can know it.
 */
export interface BigImage {
  ref: string;
  compressedBytes: number;
  unpackedBytes: number;
  layers: number;
  /** The layer blobs on disk, in order, for the `tar -x` floor. */
  blobFiles: string[];
}

const WORDS =
  'the of and to in is was for on are with as be at by this had not but from or have an they which one you were all her she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );

function text(bytes: number): Buffer {
  const seed = randomBytes(Math.ceil(bytes / 4) + 1);
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const w = WORDS[seed[i % seed.length]! % WORDS.length]!;
    parts.push(w);
    size += w.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, bytes);
}

function layerEntries(n: number): TarInput[] {
  const dir = `opt/app${n}`;
  const entries: TarInput[] = [
    { name: `${dir}/`, type: 'dir' },
    { name: `${dir}/lib/`, type: 'dir' },
    { name: `${dir}/share/`, type: 'dir' },
    { name: `${dir}/etc/`, type: 'dir' },
  ];
  for (let i = 0; i < 8; i++) entries.push({ name: `${dir}/lib/blob${i}.so`, content: randomBytes(2 << 20), mode: 0o755 });
  for (let i = 0; i < 150; i++) entries.push({ name: `${dir}/share/doc${i}.txt`, content: text(60 << 10) });
  for (let i = 0; i < 500; i++) entries.push({ name: `${dir}/etc/conf${i}`, content: text(2048) });
  return entries;
}

export async function buildBigImage(reg: TestRegistry, dir: string, tag: string): Promise<BigImage> {
  await mkdir(dir, { recursive: true });
  const layers: BuiltLayer[] = [];
  const blobFiles: string[] = [];
  let unpackedBytes = 0;
  for (let n = 0; n < 6; n++) {
    const tar = createTar(layerEntries(n));
    unpackedBytes += tar.length;
    const blob = await gzipAsync(tar);
    layers.push({ blob, diffId: digestOf(tar), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    const file = path.join(dir, `layer${n}.tar.gz`);
    await writeFile(file, blob);
    blobFiles.push(file);
  }
  const image = buildImage(layers, true, { cmd: ['/bin/true'] });
  await pushImage(reg, 'berth-bench/big', tag, image);
  return {
    ref: `${reg.host}/berth-bench/big:${tag}`,
    compressedBytes: layers.reduce((s, l) => s + l.blob.length, 0),
    unpackedBytes,
    layers: layers.length,
    blobFiles,
  };
}

/** The unpack floor: GNU tar extracting the same gzip layers in order into one directory. */
export async function tarFloorMs(image: BigImage, dir: string): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const [, ms] = await timed(async () => {
    for (const file of image.blobFiles) {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('tar', ['-xzpf', file, '-C', dir], { stdio: 'ignore' });
        child.once('error', reject);
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited with ${code}`))));
      });
    }
  });
  await rm(dir, { recursive: true, force: true });
  return ms;
}
