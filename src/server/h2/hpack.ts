/**
 * HPACK (RFC 7541) as far as berth's socket needs it: a decoder that
 * follows a client's encoder (its dynamic table included) and an encoder
 * that writes plain literals, so a header block can be read, corrected and
 * handed on without sharing any table state with the receiver.
 */

export class HpackError extends Error {}

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * The bit length of each byte's Huffman code (RFC 7541 Appendix B); the
 * end-of-string symbol (256) has 30. The code is canonical: codes are
 * handed out in order of length, then symbol, so the lengths define it.
 */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11,
  10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7,
  8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23,
  22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23,
  23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26,
  27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27,
  27, 27, 26, 30,
];

/** Per code length, code → symbol. */
const DECODE_TABLE: Map<number, number>[] = (() => {
  const table = Array.from({ length: 31 }, () => new Map<number, number>());
  const order = CODE_LENGTHS.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  let code = 0;
  let len = order[0]!.len;
  for (const entry of order) {
    code <<= entry.len - len;
    len = entry.len;
    table[len]!.set(code, entry.sym);
    code++;
  }
  return table;
})();
const EOS = 256;

export function huffmanDecode(bytes: Uint8Array): string {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      const sym = DECODE_TABLE[len]?.get(code);
      if (sym !== undefined) {
        if (sym === EOS) throw new HpackError('Huffman string holds the end-of-string symbol');
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len >= 30) throw new HpackError('invalid Huffman code');
    }
  }
  // What is left is padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (len > 7 || code !== (1 << len) - 1) throw new HpackError('invalid Huffman padding');
  return Buffer.from(out).toString('latin1');
}

export type HeaderList = [name: string, value: string][];

/** Reads HPACK header blocks in order, keeping the dynamic table the peer's encoder keeps. */
export class HpackDecoder {
  private dynamic: [string, string][] = [];
  private size = 0;
  /** The table's size now: the peer may lower it, and raise it again up to `settingsLimit`. */
  private maxTableSize: number;

  /** `settingsLimit`: what our side advertised (SETTINGS_HEADER_TABLE_SIZE); `maxHeaderBytes` bounds one block's headers. */
  constructor(
    private readonly settingsLimit = 4096,
    private readonly maxHeaderBytes = 64 << 10,
  ) {
    this.maxTableSize = settingsLimit;
  }

  decode(block: Uint8Array): HeaderList {
    const headers: HeaderList = [];
    let pos = 0;
    let total = 0;
    const integer = (prefix: number): number => {
      if (pos >= block.length) throw new HpackError('truncated integer');
      const max = (1 << prefix) - 1;
      let value = block[pos++]! & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) throw new HpackError('truncated integer');
        const b = block[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (value > 1 << 24) throw new HpackError('integer too large');
        if ((b & 0x80) === 0) return value;
      }
    };
    const string = (): string => {
      if (pos >= block.length) throw new HpackError('truncated string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = integer(7);
      if (pos + length > block.length) throw new HpackError('truncated string');
      const raw = block.subarray(pos, pos + length);
      pos += length;
      return huffman ? huffmanDecode(raw) : Buffer.from(raw).toString('latin1');
    };
    const entry = (index: number): readonly [string, string] => {
      if (index >= 1 && index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
      const dyn = this.dynamic[index - STATIC_TABLE.length - 1];
      if (!dyn) throw new HpackError(`header index ${index} is not in the table`);
      return dyn;
    };
    const emit = (name: string, value: string) => {
      total += name.length + value.length + 32;
      if (total > this.maxHeaderBytes) throw new HpackError(`header block over ${this.maxHeaderBytes} bytes`);
      headers.push([name, value]);
    };
    while (pos < block.length) {
      const first = block[pos]!;
      if (first & 0x80) {
        const [name, value] = entry(integer(7));
        emit(name, value);
      } else if (first & 0x40) {
        const index = integer(6);
        const name = index === 0 ? string() : entry(index)[0];
        const value = string();
        emit(name, value);
        this.add(name, value);
      } else if (first & 0x20) {
        const size = integer(5);
        if (size > this.settingsLimit) throw new HpackError(`table size ${size} over the ${this.settingsLimit} allowed`);
        this.maxTableSize = size;
        this.evict();
      } else {
        const index = integer(4);
        const name = index === 0 ? string() : entry(index)[0];
        emit(name, string());
      }
    }
    return headers;
  }

  private add(name: string, value: string): void {
    this.dynamic.unshift([name, value]);
    this.size += name.length + value.length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxTableSize) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}

function encodeInteger(out: number[], value: number, prefix: number, flags: number): void {
  const max = (1 << prefix) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** Every header as a literal without indexing, new name, no Huffman: no table state on either side. */
export function encodeLiterals(headers: HeaderList): Buffer {
  const out: number[] = [];
  for (const [name, value] of headers) {
    out.push(0x00);
    for (const s of [name, value]) {
      const bytes = Buffer.from(s, 'latin1');
      encodeInteger(out, bytes.length, 7, 0x00);
      for (const b of bytes) out.push(b);
    }
  }
  return Buffer.from(out);
}
