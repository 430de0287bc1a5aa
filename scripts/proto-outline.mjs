// Prints the wire outline of a .proto file: one line per message field,
// enum value and RPC (names, numbers, types, labels), sorted, nothing else.
// proto/cri/upstream-v1.outline is this script's output for the cri-api
// release berth's proto must match; test/proto-outline.test.ts compares
// berth's own proto to it.
//
//   node scripts/proto-outline.mjs FILE.proto [--sha256]
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { protoOutline } from './proto-outline-lib.mjs';

const [file, flag] = process.argv.slice(2);
if (!file) {
  console.error('usage: proto-outline.mjs FILE.proto [--sha256]');
  process.exit(2);
}
const text = readFileSync(file, 'utf8');
if (flag === '--sha256') console.log(`# source sha256 ${createHash('sha256').update(text).digest('hex')}`);
process.stdout.write(`${protoOutline(text).join('\n')}\n`);
