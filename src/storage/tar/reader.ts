/**
 * A streaming reader for the tar formats image layers use: ustar, GNU
 * (long names, base-256 numbers) and POSIX pax (extended headers with long
 * names and `SCHILY.xattr.*` extended attributes). Pax values stay raw
 * bytes, so binary attributes such as `security.capability` survive.
 */

import { ByteReader, TarFormatError } from './byte-reader.js';

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarEntry {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time in seconds (fractional with pax). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.<name>` pax records. */
  xattrs: Map<string, Buffer>;
}

export { TarFormatError };

const BLOCK = 512;
/** The largest uid or gid (2^32 - 1 is "no change" to chown(2)). */
const MAX_ID = 0xfffffffe;

function parseNumber(field: Buffer): number {
  if (field.length > 0 && (field[0]! & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement with the top bit as a flag.
    let value = BigInt(field[0]! & 0x7f);
    for (let i = 1; i < field.length; i++) value = (value << 8n) | BigInt(field[i]!);
    return Number(value);
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`invalid octal number "${text}" in tar header`);
  return parseInt(text, 8);
}

function parseString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

function checksumOk(header: Buffer): boolean {
  const stored = parseNumber(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return stored === sum;
}

/** Parses pax records: "<len> <key>=<value>\n", value as raw bytes. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.subarray(pos, space).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > data.length) throw new TarFormatError('malformed pax record');
    const record = data.subarray(space + 1, pos + len - 1); // drop trailing newline
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError('malformed pax record (no "=")');
    out.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

export interface TarReadOptions {
  /** Largest pax or GNU long-name header accepted, against memory exhaustion. */
  maxMetaBytes?: number;
}

/**
 * Yields each entry with a body iterator; the body must be consumed (or is
 * skipped) before the next entry is produced.
 */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  options: TarReadOptions = {},
): AsyncGenerator<{ entry: TarEntry; body: AsyncIterable<Buffer> }> {
  const reader = new ByteReader(source);
  const maxMeta = options.maxMetaBytes ?? 1 << 20;
  let globalPax = new Map<string, Buffer>();
  let localPax: Map<string, Buffer> | undefined;
  let gnuLongName: string | undefined;
  let gnuLongLink: string | undefined;
  let zeroBlocks = 0;
  for (;;) {
    const header = await reader.readExact(BLOCK);
    if (header === null) break;
    if (header.every((b) => b === 0)) {
      if (++zeroBlocks === 2) break;
      continue;
    }
    zeroBlocks = 0;
    if (!checksumOk(header)) throw new TarFormatError('tar header checksum mismatch (corrupt or not a tar archive)');
    const typeflag = String.fromCharCode(header[156]!);
    const size = parseNumber(header.subarray(124, 136));
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > maxMeta) throw new TarFormatError(`tar metadata header of ${size} bytes is too large`);
      const data = (await reader.readExact(padded)) ?? Buffer.alloc(0);
      const content = data.subarray(0, size);
      if (typeflag === 'x') localPax = parsePax(content);
      else if (typeflag === 'g') globalPax = new Map([...globalPax, ...parsePax(content)]);
      else if (typeflag === 'L') gnuLongName = parseString(content);
      else gnuLongLink = parseString(content);
      continue;
    }
    const pax = new Map([...globalPax, ...(localPax ?? [])]);
    const magic = header.subarray(257, 263).toString('latin1');
    let name = parseString(header.subarray(0, 100));
    const prefix = magic.startsWith('ustar') ? parseString(header.subarray(345, 500)) : '';
    if (prefix && magic === 'ustar\0') name = `${prefix}/${name}`;
    if (gnuLongName !== undefined) name = gnuLongName;
    if (pax.has('path')) name = pax.get('path')!.toString('utf8');
    let linkname = parseString(header.subarray(157, 257));
    if (gnuLongLink !== undefined) linkname = gnuLongLink;
    if (pax.has('linkpath')) linkname = pax.get('linkpath')!.toString('utf8');
    const type = TYPES[typeflag];
    // pax values are text anyone can write: a number that is not one, or
    // does not fit what it describes, refuses the archive instead of
    // reaching chown(2) or utimensat(2) as NaN or out of range.
    const paxNumber = (key: string, fallback: number, valid: (n: number) => boolean) => {
      const n = pax.has(key) ? Number(pax.get(key)!.toString()) : fallback;
      if (!valid(n)) throw new TarFormatError(`invalid ${key} "${pax.has(key) ? pax.get(key)!.toString() : n}" for ${name}`);
      return n;
    };
    const isId = (n: number) => Number.isInteger(n) && n >= 0 && n <= MAX_ID;
    const entrySize = paxNumber('size', size, (n) => Number.isSafeInteger(n) && n >= 0);
    const realPadded = Math.ceil(entrySize / BLOCK) * BLOCK;
    localPax = undefined;
    gnuLongName = undefined;
    gnuLongLink = undefined;
    if (type === undefined) {
      // Unknown entry types (sparse files, volume labels) are refused rather
      // than silently unpacked wrong.
      throw new TarFormatError(`unsupported tar entry type "${typeflag}" for ${name}`);
    }
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
    const entry: TarEntry = {
      name,
      type: name.endsWith('/') && type === 'file' ? 'directory' : type,
      mode: parseNumber(header.subarray(100, 108)) & 0o7777,
      uid: paxNumber('uid', parseNumber(header.subarray(108, 116)), isId),
      gid: paxNumber('gid', parseNumber(header.subarray(116, 124)), isId),
      size: type === 'file' ? entrySize : 0,
      mtime: paxNumber('mtime', parseNumber(header.subarray(136, 148)), (n) => Number.isFinite(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER),
      linkname,
      devmajor: parseNumber(header.subarray(329, 337)),
      devminor: parseNumber(header.subarray(337, 345)),
      xattrs,
    };
    let remaining = type === 'file' ? entrySize : 0;
    const body: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        while (remaining > 0) {
          const chunk = await reader.readSome(Math.min(remaining, 1 << 20));
          if (chunk === null) throw new TarFormatError(`unexpected end of archive inside ${name}`);
          remaining -= chunk.length;
          yield chunk;
        }
      },
    };
    yield { entry, body };
    // Skip whatever the consumer left unread, then the block padding.
    let skip = remaining + (type === 'file' ? realPadded - entrySize : padded);
    remaining = 0;
    while (skip > 0) {
      const chunk = await reader.readSome(Math.min(skip, 1 << 20));
      if (chunk === null) throw new TarFormatError('unexpected end of archive');
      skip -= chunk.length;
    }
  }
  // Tar writers pad the archive to a record (10 KiB by default); what goes
  // on far past the end is not padding but work for nothing (a zstd layer
  // of RLE blocks expands to gigabytes of zeros after two empty headers).
  const trailing = await reader.drain(MAX_TRAILING_BYTES);
  if (trailing > MAX_TRAILING_BYTES) throw new TarFormatError(`the layer goes on past the end of its tar archive (more than ${MAX_TRAILING_BYTES} bytes)`);
}

/** What may follow the end-of-archive blocks. */
export const MAX_TRAILING_BYTES = 1 << 20;
