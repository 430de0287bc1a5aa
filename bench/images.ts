import { call, type CriClient } from '../e2e/lib/cri-client.js';
import { timed } from './measure.js';

/** The image calls, as critest's image benchmark and the kubelet make them. */
export const IMAGE_CALLS = ['PullImage', 'PullImage (present)', 'ImageStatus', 'ListImages', 'RemoveImage'] as const;
export type ImageCall = (typeof IMAGE_CALLS)[number];

/**
 * `runs` rounds on one small image: a pull of the absent image, a pull of
 * it again (present: what the kubelet's IfNotPresent-less pull policies
 * cost), its status, the list, and its removal. The image is removed
 * (untimed) first if an earlier workload left it.
 */
export async function imageCalls(client: CriClient, image: string, runs: number): Promise<Record<ImageCall, number[]>> {
  const img = client.image;
  const out = Object.fromEntries(IMAGE_CALLS.map((k) => [k, [] as number[]])) as Record<ImageCall, number[]>;
  const status = await call(img, img.ImageStatus, { image: { image } });
  if (status.image) await call(img, img.RemoveImage, { image: { image } });
  for (let i = 0; i < runs; i++) {
    out.PullImage.push((await timed(() => call(img, img.PullImage, { image: { image } }, 120_000)))[1]);
    out['PullImage (present)'].push((await timed(() => call(img, img.PullImage, { image: { image } }, 120_000)))[1]);
    out.ImageStatus.push((await timed(() => call(img, img.ImageStatus, { image: { image } })))[1]);
    out.ListImages.push((await timed(() => call(img, img.ListImages, {})))[1]);
    out.RemoveImage.push((await timed(() => call(img, img.RemoveImage, { image: { image } })))[1]);
  }
  return out;
}
