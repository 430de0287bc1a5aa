/**
 * A small tar writer for tests and e2e fixtures: ustar headers plus pax
 * records (long names, binary `SCHILY.xattr.*` values), so the fixtures can
 * hold exactly the entries a test needs, hostile ones included.
 */
export interface TarInput {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  content?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer>;
  /** Extra pax records, written as given (hostile values included). */
  pax?: Record<string, string>;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(fields: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const h = Buffer.alloc(512);
  h.write(fields.name.slice(0, 100), 0, 'utf8');
  h.write(octal(fields.mode, 8), 100, 'latin1');
  h.write(octal(fields.uid, 8), 108, 'latin1');
  h.write(octal(fields.gid, 8), 116, 'latin1');
  h.write(octal(fields.size, 12), 124, 'latin1');
  h.write(octal(fields.mtime, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(fields.typeflag, 156, 'latin1');
  h.write(fields.linkname.slice(0, 100), 157, 'utf8');
  h.write('ustar\u000000', 257, 'latin1');
  h.write(octal(fields.devmajor, 8), 329, 'latin1');
  h.write(octal(fields.devminor, 8), 337, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${octal(sum, 7)} `, 148, 'latin1');
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export function createTar(entries: TarInput[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    const linkname = e.linkname ?? '';
    const pax: Buffer[] = [];
    if (Buffer.byteLength(e.name) > 100) pax.push(paxRecord('path', Buffer.from(e.name)));
    if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord('linkpath', Buffer.from(linkname)));
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
    for (const [k, v] of Object.entries(e.pax ?? {})) pax.push(paxRecord(k, Buffer.from(v)));
    const common = {
      mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? 1_600_000_000,
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
    };
    if (pax.length > 0) {
      const data = Buffer.concat(pax);
      out.push(header({ ...common, name: 'PaxHeaders/entry', size: data.length, typeflag: 'x', linkname: '' }), pad(data));
    }
    out.push(header({ ...common, name: e.name, size: content.length, typeflag: TYPEFLAG[type], linkname }));
    if (content.length > 0) out.push(pad(content));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}
