import type { ImageFsInfoRequest__Output } from '../../generated/runtime/v1/ImageFsInfoRequest.js';
import type { ImageFsInfoResponse } from '../../generated/runtime/v1/ImageFsInfoResponse.js';
import type { CallContext } from '../deps.js';

/** Usage is kept up to date as layers come and go; no tree walk per call. */
export async function imageFsInfo(ctx: CallContext, _req: ImageFsInfoRequest__Output): Promise<ImageFsInfoResponse> {
  const usage = ctx.deps.images.fsUsage();
  const nowNs = (BigInt(Date.now()) * 1_000_000n).toString();
  return {
    imageFilesystems: [
      {
        timestamp: nowNs,
        fsId: { mountpoint: usage.mountpoint },
        usedBytes: { value: String(usage.bytes) },
        inodesUsed: { value: String(usage.inodes) },
      },
    ],
    // The writable layers, reported apart from the image layers (KubeletSeparateDiskGC).
    containerFilesystems: [await containerFs(ctx, nowNs)],
  };
}

async function containerFs(ctx: CallContext, timestamp: string) {
  const fs = await ctx.deps.stats.containerFilesystem();
  return { timestamp, fsId: { mountpoint: fs.mountpoint }, usedBytes: { value: String(fs.bytes) }, inodesUsed: { value: String(fs.inodes) } };
}
