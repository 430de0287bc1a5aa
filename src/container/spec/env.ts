/**
 * The environment: a default PATH, HOSTNAME, then the image's variables,
 * then the CRI's, each later one replacing an earlier one of the same
 * name in place. CRI values are bytes on the wire (cri-api 1.36); UTF-8
 * text passes through exactly, while bytes that are not UTF-8 cannot cross
 * the OCI runtime's JSON config and become U+FFFD there, as in any runtime.
 */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function buildEnv(hostname: string, tty: boolean, imageEnv: string[], criEnv: { key: string; value: Buffer | string }[]): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  const set = (entry: string) => {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (!values.has(key)) order.push(key);
    values.set(key, entry);
  };
  set(DEFAULT_PATH);
  if (tty) set('TERM=xterm');
  set(`HOSTNAME=${hostname}`);
  for (const e of imageEnv) set(e);
  for (const { key, value } of criEnv) {
    if (key === '') continue;
    set(`${key}=${Buffer.isBuffer(value) ? value.toString('utf8') : value}`);
  }
  return order.map((k) => values.get(k)!);
}
