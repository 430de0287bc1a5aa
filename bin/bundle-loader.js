// Loads bundle/berth.cjs, the whole daemon in one file (scripts/bundle.mjs),
// with the V8 code cache that `npm run build` wrote beside it: compiling
// the bundle from source took a quarter of the daemon's start-up. A cache
// made by another node build is rejected by V8 and the bundle is simply
// compiled from source.
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

export const BUNDLE = fileURLToPath(new URL('../bundle/berth.cjs', import.meta.url));
export const CODE_CACHE = `${BUNDLE}.codecache`;

export function compileBundle(cachedData) {
  return new vm.Script(Module.wrap(readFileSync(BUNDLE, 'utf8')), {
    filename: BUNDLE,
    cachedData,
    // import() of node's own modules, should any remain, as in any module.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
}

/**
 * Runs the compiled bundle as the CommonJS module it is, registered in the
 * module cache: the chunks loaded on demand (undici, ws, prom-client,
 * pino-pretty) require it back and must get this same instance.
 */
export function runBundle(script) {
  const module = new Module(BUNDLE);
  module.filename = BUNDLE;
  Module._cache[BUNDLE] = module;
  const wrapper = script.runInThisContext();
  wrapper.call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE));
  module.loaded = true;
  return module.exports;
}

export function loadBundle() {
  let cachedData;
  try {
    cachedData = readFileSync(CODE_CACHE);
  } catch {
    // No cache (a build without it): compile from source.
  }
  return runBundle(compileBundle(cachedData));
}
