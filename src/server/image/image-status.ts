import type { ImageStatusRequest__Output } from '../../generated/runtime/v1/ImageStatusRequest.js';
import type { ImageStatusResponse } from '../../generated/runtime/v1/ImageStatusResponse.js';
import { invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';
import { toCriImage } from './image-message.js';

/** An absent image is `image` unset, not an error: the kubelet pulls on that answer. */
export async function imageStatus(ctx: CallContext, req: ImageStatusRequest__Output): Promise<ImageStatusResponse> {
  const text = req.image?.image ?? '';
  if (!text.trim()) throw invalidArgument('ImageStatus: image.image is empty');
  const record = ctx.deps.images.resolve(text);
  if (!record) return { image: null, info: {} };
  const info: Record<string, string> = {};
  if (req.verbose) {
    const config = await ctx.deps.images.config(record);
    info.info = JSON.stringify({
      // containerd's keys first.
      chainID: record.layers[record.layers.length - 1]?.chainId ?? '',
      imageSpec: config,
      manifestDigest: record.manifestDigest,
      indexDigest: record.indexDigest,
      chainIDs: record.layers.map((l) => l.chainId),
      pulledAt: record.pulledAt,
    });
  }
  return { image: toCriImage(ctx.deps.images, record), info };
}
