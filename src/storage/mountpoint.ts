import { readFile, realpath } from 'node:fs/promises';

/** The mount point of the filesystem holding `dir`, from /proc/self/mountinfo. */
export async function mountpointOf(dir: string): Promise<string> {
  const real = await realpath(dir);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  let best = '/';
  for (const line of info.split('\n')) {
    const fields = line.split(' ');
    const mp = fields[4]?.replace(/\\040/g, ' ');
    if (!mp) continue;
    if ((real === mp || real.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}
