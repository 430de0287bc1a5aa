// Writes bundle/berth.cjs.codecache: V8's compiled code for the bundle,
// made after evaluating it so that every function its start-up compiles
// is in the cache too. bin/bundle-loader.js hands it to V8.
import { writeFileSync } from 'node:fs';
import { CODE_CACHE, compileBundle, runBundle } from '../bin/bundle-loader.js';

const script = compileBundle(undefined);
runBundle(script);
writeFileSync(CODE_CACHE, script.createCachedData());
