import type { ListImagesRequest__Output } from '../../generated/runtime/v1/ListImagesRequest.js';
import type { ListImagesResponse } from '../../generated/runtime/v1/ListImagesResponse.js';
import type { ImageRecord } from '../../storage/image-store.js';
import type { CallContext } from '../deps.js';
import { toCriImage } from './image-message.js';

/** Images matching a ListImages filter: all of them, or the one its image spec names. */
export function filteredImages(ctx: CallContext, filterImage: string | undefined): ImageRecord[] {
  if (!filterImage) return ctx.deps.images.list();
  const one = ctx.deps.images.resolve(filterImage);
  return one ? [one] : [];
}

export async function listImages(ctx: CallContext, req: ListImagesRequest__Output): Promise<ListImagesResponse> {
  const records = filteredImages(ctx, req.filter?.image?.image);
  return { images: records.map((r) => toCriImage(ctx.deps.images, r)) };
}
