import type { RemoveImageRequest__Output } from '../../generated/runtime/v1/RemoveImageRequest.js';
import type { RemoveImageResponse } from '../../generated/runtime/v1/RemoveImageResponse.js';
import { invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';

/**
 * Removes the image by id, tag or digest, with every tag it has. The CRI
 * says RemoveImage is idempotent: an image that is already gone is success.
 */
export async function removeImage(ctx: CallContext, req: RemoveImageRequest__Output): Promise<RemoveImageResponse> {
  const text = req.image?.image ?? '';
  if (!text.trim()) throw invalidArgument('RemoveImage: image.image is empty');
  await ctx.deps.images.remove(text, ctx.log);
  return {};
}
