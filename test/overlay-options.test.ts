import { describe, expect, it } from 'vitest';
import { MAX_OVERLAY_LAYERS, MOUNT_DATA_LIMIT, overlayOptions } from '../src/container/rootfs.js';

/** Layer links as the snapshot store names them: `l/` and 16 characters. */
const links = (n: number) => Array.from({ length: n }, (_, i) => `l/${i.toString(16).padStart(16, '0')}`);
const upper = '/var/lib/berth/containers/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/fs/upper';
const work = '/var/lib/berth/containers/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/fs/work';

describe('overlay mount options', () => {
  it('are the layers top first, then the upper and work directories, when they fit one page', () => {
    expect(overlayOptions(['l/a', 'l/b'], upper, work)).toBe(`lowerdir=l/a:l/b,upperdir=${upper},workdir=${work}`);
    expect(overlayOptions(['l/a', 'l/b'])).toBe('lowerdir=l/a:l/b');
    const most = overlayOptions(links(190), upper, work);
    expect(Buffer.byteLength(most) + 1).toBeLessThanOrEqual(MOUNT_DATA_LIMIT);
  });

  it('are refused, never cut, past the page mount(2) copies, naming the count and how many fit', () => {
    let thrown: unknown;
    try {
      overlayOptions(links(300), upper, work);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({
      kind: 'failed-precondition',
      message: expect.stringMatching(/^the image has 300 layers; .* more than the 4096 mount\(2\) accepts \(\d+ layers fit here\)$/),
    });
    const fit = Number(/\((\d+) layers fit here\)/.exec((thrown as Error).message)![1]);
    expect(() => overlayOptions(links(fit), upper, work)).not.toThrow();
    expect(() => overlayOptions(links(fit + 1), upper, work)).toThrow(/layers fit here/);
  });

  it('are refused past overlayfs’ own stack limit', () => {
    expect(() => overlayOptions(Array.from({ length: MAX_OVERLAY_LAYERS + 1 }, (_, i) => String(i)))).toThrow(/stacks at most 500/);
  });
});
