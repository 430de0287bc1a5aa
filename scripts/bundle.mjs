// Bundles the compiled daemon (dist/cli.js and everything it imports,
// node_modules included) into bundle/berth.cjs, the file bin/berth.js
// loads. One file instead of some 400 modules: resolving, reading and
// compiling them one by one was most of the daemon's start-up time. It is
// CommonJS so that V8 can load it with a code cache (scripts/code-cache.mjs).
// Modules loaded on demand (undici for pulls, ws for WebSocket streams,
// prom-client for metrics, pino-pretty for text logs) stay separate chunks
// beside it. Everything sits one level below the package root, as
// src/install-paths.ts expects. dist/bundle-modules.json lists the modules
// each chunk holds, for scripts/deb/copyright.mjs.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { build } from 'rolldown';

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
await rm('bundle', { recursive: true, force: true });
const { output } = await build({
  input: { berth: 'dist/cli.js' },
  platform: 'node',
  // grpc-js requires proto-loader only to serve channelz and ORCA, which
  // berth never enables (and whose .proto files a bundle could not find).
  external: (id) => builtins.has(id) || id === '@grpc/proto-loader',
  // The entry holds all the shared code: the chunks require it back.
  preserveEntrySignatures: 'allow-extension',
  logLevel: 'silent',
  // Whitespace and comments go (less to load, parse and keep in memory);
  // names stay, so stack traces still read like the source.
  output: {
    dir: 'bundle',
    format: 'cjs',
    entryFileNames: '[name].cjs',
    chunkFileNames: '[name]-[hash].cjs',
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
  },
});

// The package's copyright file names every npm package with code in the
// bundle and no other: the modules that made it into each chunk (paths
// relative to the repository; rolldown's own runtime is a virtual module).
const chunks = {};
for (const chunk of output) {
  if (chunk.type !== 'chunk') continue;
  chunks[chunk.fileName] = Object.entries(chunk.modules)
    .filter(([, m]) => m.renderedLength > 0)
    .map(([id]) => (path.isAbsolute(id) ? path.relative('.', id) : id));
}
await writeFile('dist/bundle-modules.json', `${JSON.stringify({ chunks }, null, 1)}\n`);

// V8 keeps a script's source in the heap for as long as the script lives,
// one byte per character only if every character is Latin-1: the handful
// of '…', '–' and BOM characters in the bundled libraries' template
// literals made the whole 1.3 MB source two bytes a character. Written as
// \u escapes (which mean the same in string, template and regex literals,
// identifiers and comments) they leave it ASCII.
const entry = 'bundle/berth.cjs';
const source = await readFile(entry, 'utf8');
if (/String\.raw/.test(source)) throw new Error(`${entry} uses String.raw, where \\u escapes would change the text`);
await writeFile(
  entry,
  source.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
);
