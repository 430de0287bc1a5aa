// Bundles the compiled daemon (dist/cli.js and everything it imports,
// node_modules included) into bundle/berth.cjs, the file bin/berth.js
// loads. One file instead of some 400 modules: resolving, reading and
// compiling them one by one was most of the daemon's start-up time. It is
// CommonJS so that V8 can load it with a code cache (scripts/code-cache.mjs).
// Modules loaded on demand (undici for pulls, ws for WebSocket streams,
// prom-client for metrics, pino-pretty for text logs) stay separate chunks
// beside it. Everything sits one level below the package root, as
// src/install-paths.ts expects.
import { rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { build } from 'rolldown';

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
await rm('bundle', { recursive: true, force: true });
await build({
  input: { berth: 'dist/cli.js' },
  platform: 'node',
  external: (id) => builtins.has(id),
  // The entry holds all the shared code: the chunks require it back.
  preserveEntrySignatures: 'allow-extension',
  logLevel: 'silent',
  output: { dir: 'bundle', format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: '[name]-[hash].cjs' },
});
