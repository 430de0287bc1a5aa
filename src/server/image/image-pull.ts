import type { PullImageRequest__Output } from '../../generated/runtime/v1/PullImageRequest.js';
import type { PullImageResponse } from '../../generated/runtime/v1/PullImageResponse.js';
import { invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';

export async function pullImage(ctx: CallContext, req: PullImageRequest__Output): Promise<PullImageResponse> {
  const image = req.image?.image ?? '';
  if (!image.trim()) throw invalidArgument('PullImage: image.image is empty');
  const pull = () => ctx.deps.images.pull(image, req.auth, ctx.signal, ctx.log);
  const record = ctx.deps.metrics ? await ctx.deps.metrics.observePull(pull, (r) => r.size) : await pull();
  // Since Kubernetes 1.36 image_ref must equal Image.id.
  return { imageRef: record.id };
}
