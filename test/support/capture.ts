import { Writable } from 'node:stream';

/** A stream that keeps what is written to it, for a command's stdout or stderr. */
export function captured(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString('utf8') });
}

/** stdout and stderr of one `main()` call. */
export function cliStreams() {
  const stdout = captured();
  const stderr = captured();
  return { stdout, stderr };
}
