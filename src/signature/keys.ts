/**
 * Public keys named by a policy requirement (`keyPath`, `keyPaths` or
 * `keyData`): OpenPGP keys for `signedBy` (an armored or binary keyring,
 * as `gpg --export` writes), PEM public keys for `sigstoreSigned`. Files are
 * the operator's and read with a size cap; a key that cannot be read makes
 * the requirement fail with a message naming it.
 */

import { readFile, stat } from 'node:fs/promises';
import type { KeySource } from './policy.js';

const MAX_KEY_FILE = 1 << 20;

export async function keyMaterial(source: KeySource): Promise<Buffer[]> {
  if ('keyData' in source) return [Buffer.from(source.keyData, 'base64')];
  const files = 'keyPath' in source ? [source.keyPath] : source.keyPaths;
  const out: Buffer[] = [];
  for (const file of files) {
    const st = await stat(file).catch((err: Error) => {
      throw new Error(`cannot read key ${file}: ${err.message}`);
    });
    if (!st.isFile()) throw new Error(`key ${file} is not a regular file`);
    if (st.size > MAX_KEY_FILE) throw new Error(`key ${file} is larger than ${MAX_KEY_FILE} bytes`);
    out.push(await readFile(file));
  }
  return out;
}
