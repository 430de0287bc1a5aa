import type { StreamImagesRequest__Output } from '../../generated/runtime/v1/StreamImagesRequest.js';
import type { StreamImagesResponse } from '../../generated/runtime/v1/StreamImagesResponse.js';
import type { CallContext } from '../deps.js';
import { toCriImage } from './image-message.js';
import { filteredImages } from './image-list.js';

/** Images per message: far below the 16 MiB a kubelet accepts. */
const BATCH = 500;

/** StreamImages: ListImages in bounded batches (CRI 1.36). */
export async function streamImages(ctx: CallContext, req: StreamImagesRequest__Output, send: (m: StreamImagesResponse) => Promise<void>): Promise<void> {
  const records = filteredImages(ctx, req.filter?.image?.image);
  for (let i = 0; i < records.length; i += BATCH) {
    await send({ images: records.slice(i, i + BATCH).map((r) => toCriImage(ctx.deps.images, r)) });
  }
}
