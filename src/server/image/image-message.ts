import type { Image } from '../../generated/runtime/v1/Image.js';
import type { ImageService } from '../../image/image-service.js';
import type { ImageRecord } from '../../storage/image-store.js';

/**
 * The uid or username of an image's `User` ("1002", "www-data",
 * "1003:1004"); neither when the image names no user.
 */
export function imageUser(user: string): { uid?: string; username: string } {
  if (!user) return { username: '' };
  const name = user.split(':')[0]!;
  if (/^\d+$/.test(name)) return { uid: name, username: '' };
  return { username: name };
}

export function toCriImage(images: ImageService, record: ImageRecord): Image {
  const user = imageUser(record.user);
  return {
    id: record.id,
    repoTags: record.repoTags,
    repoDigests: record.repoDigests,
    size: String(record.size),
    uid: user.uid !== undefined ? { value: user.uid } : null,
    username: user.username,
    spec: { image: record.id, annotations: {} },
    pinned: images.isPinned(record),
  };
}
