#!/usr/bin/env node
// Entry point of the berth CLI; the code is bundle/berth.cjs (run `npm run build`).
import { loadBundle } from './bundle-loader.js';

const { main } = loadBundle();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`berth: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
