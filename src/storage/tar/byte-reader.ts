/**
 * Pulls exact byte counts out of an async stream of chunks without copying
 * more than needed: the tar reader asks for 512-byte headers and for file
 * bodies piece by piece.
 */
/** A layer that is not a well-formed tar archive: the image's fault. */
export class TarFormatError extends Error {}

export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return true;
  }

  /** Exactly `n` bytes, or null at a clean end of stream; throws on a torn read. */
  async readExact(n: number): Promise<Buffer | null> {
    while (this.pending.length < n) {
      if (!(await this.fill())) {
        if (this.pending.length === 0) return null;
        throw new TarFormatError(`unexpected end of archive: wanted ${n} bytes, had ${this.pending.length}`);
      }
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /** Up to `max` bytes (at least one), or null at end of stream. */
  async readSome(max: number): Promise<Buffer | null> {
    if (this.pending.length === 0 && !(await this.fill())) return null;
    const n = Math.min(max, this.pending.length);
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /**
   * Reads and discards the rest of the stream (trailing padding after the
   * archive); returns how many bytes, or stops at `limit` and returns
   * more than it.
   */
  async drain(limit = Number.POSITIVE_INFINITY): Promise<number> {
    let drained = this.pending.length;
    this.pending = Buffer.alloc(0);
    while (drained <= limit && (await this.fill())) {
      drained += this.pending.length;
      this.pending = Buffer.alloc(0);
    }
    return drained;
  }
}
