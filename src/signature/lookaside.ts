/**
 * Reading GPG signatures from lookaside storage (docs/signature-protocols.md
 * of containers/image): `<base>/<repository path>@<algorithm>=<hex>/signature-<n>`
 * for n = 1, 2, … until one is missing. `file://` bases are read from disk,
 * `http(s)://` ones fetched; every signature is capped in size, and the
 * number read is bounded, as a lookaside server is no more trusted than a
 * registry.
 */

import { readFile, stat } from 'node:fs/promises';
import { errnoCode } from '../errors.js';

export const MAX_SIGNATURE_BYTES = 4 << 20;
export const MAX_SIGNATURES = 64;

export function signatureUrl(base: URL, manifestDigest: string, index: number): URL {
  const [algorithm, hex] = manifestDigest.split(':');
  const url = new URL(base.href);
  url.pathname = `${base.pathname}@${algorithm}=${hex}/signature-${index}`;
  return url;
}

async function readOne(url: URL, signal: AbortSignal): Promise<Buffer | undefined> {
  if (url.protocol === 'file:') {
    const file = decodeURIComponent(url.pathname);
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new Error(`${file} is not a regular file`);
      if (st.size > MAX_SIGNATURE_BYTES) throw new Error(`${file} is larger than ${MAX_SIGNATURE_BYTES} bytes`);
      return await readFile(file);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`lookaside URL scheme ${url.protocol} is not supported`);
  const res = await fetch(url, { signal, redirect: 'follow' });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${url.href}: HTTP ${res.status}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > MAX_SIGNATURE_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`${url.href}: larger than ${MAX_SIGNATURE_BYTES} bytes`);
    }
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

/** Every signature stored for `manifestDigest` under `base` (possibly none). */
export async function readLookasideSignatures(base: URL, manifestDigest: string, signal: AbortSignal): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let n = 1; n <= MAX_SIGNATURES; n++) {
    const sig = await readOne(signatureUrl(base, manifestDigest, n), signal);
    if (!sig) break;
    out.push(sig);
  }
  return out;
}
