import { createHash } from 'node:crypto';
import type { TestRegistry } from './registry.js';

/** Minimal OCI distribution push: monolithic blob uploads and manifest PUTs. */
export function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function headers(reg: TestRegistry, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  if (reg.auth) h.authorization = `Basic ${Buffer.from(`${reg.auth.username}:${reg.auth.password}`).toString('base64')}`;
  return h;
}

export async function pushBlob(reg: TestRegistry, repo: string, data: Buffer): Promise<string> {
  const digest = digestOf(data);
  const head = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: headers(reg) });
  if (head.status === 200) return digest;
  const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: headers(reg) });
  if (start.status !== 202) throw new Error(`upload start for ${repo}: HTTP ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location')!, reg.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', headers: headers(reg, { 'content-type': 'application/octet-stream' }), body: data });
  if (put.status !== 201) throw new Error(`blob upload for ${repo}: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

export async function pushManifest(reg: TestRegistry, repo: string, reference: string, body: Buffer, mediaType: string): Promise<string> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: headers(reg, { 'content-type': mediaType }), body });
  if (res.status !== 201) throw new Error(`manifest ${repo}:${reference}: HTTP ${res.status} ${await res.text()}`);
  return digestOf(body);
}
