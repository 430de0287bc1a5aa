#!/usr/bin/env node
// Entry point of the berth CLI; the code lives in dist/ (run `npm run build`).
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`berth: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
