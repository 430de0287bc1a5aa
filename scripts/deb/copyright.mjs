// Writes the package's machine-readable copyright file
// (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/) into
// the staged tree, as usr/share/doc/berth/copyright, and Node.js's LICENSE
// beside the node binary it describes, when the build machine has one.
// Usage (scripts/package.sh): node scripts/deb/copyright.mjs STAGE
//
// Generated at package time so that it never goes stale: the npm packages
// it names are exactly those with code in the bundle, as scripts/bundle.mjs
// recorded them in dist/bundle-modules.json; their versions, licenses and
// copyright notices come from node_modules; the Node.js version from the
// staged binary. A license this script has no text for stops the build.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const stage = process.argv[2];
if (!stage) throw new Error('usage: node scripts/deb/copyright.mjs STAGE');
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;

// --- The license texts, by DEP-5 short name. ---------------------------

const EXPAT = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.`;

const ISC = `Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY
SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION
OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN
CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`;

const BSD_CONDITIONS_1_2 = `Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice,
   this list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.`;

const BSD_DISCLAIMER = `THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE.`;

const BSD2 = `${BSD_CONDITIONS_1_2}\n\n${BSD_DISCLAIMER}`;
const BSD3 = `${BSD_CONDITIONS_1_2}

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.

${BSD_DISCLAIMER}`;

const APACHE = `Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    https://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.

On Debian systems, the full text of the Apache License, Version 2.0 can be
found in /usr/share/common-licenses/Apache-2.0.`;

const lgpl3 = (later) => `This library is free software; you can redistribute it and/or modify it
under the terms of the GNU Lesser General Public License as published by the
Free Software Foundation, ${later ? 'either version 3 of the License, or (at your option)\nany later version' : 'version 3 of the License'}.

This library is distributed in the hope that it will be useful, but WITHOUT
ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS
FOR A PARTICULAR PURPOSE. See the GNU Lesser General Public License for more
details.

On Debian systems, the full text of the GNU Lesser General Public License
version 3 can be found in /usr/share/common-licenses/LGPL-3, and that of the
GNU General Public License version 3, which it supplements, in
/usr/share/common-licenses/GPL-3.`;

const TEXTS = {
  'Apache-2.0': APACHE,
  Expat: EXPAT,
  ISC,
  'BSD-2-clause': BSD2,
  'BSD-3-clause': BSD3,
  'LGPL-3': lgpl3(false),
  'LGPL-3+': lgpl3(true),
};

/** SPDX identifiers as npm packages give them, to DEP-5 short names. */
const SPDX = {
  MIT: 'Expat',
  ISC: 'ISC',
  'Apache-2.0': 'Apache-2.0',
  'BSD-2-Clause': 'BSD-2-clause',
  'BSD-3-Clause': 'BSD-3-clause',
  'LGPL-3.0': 'LGPL-3',
  'LGPL-3.0-only': 'LGPL-3',
  'LGPL-3.0+': 'LGPL-3+',
  'LGPL-3.0-or-later': 'LGPL-3+',
};

/** A package.json `license` (an SPDX expression without nesting) in DEP-5 syntax. */
function dep5License(pkg, spdx) {
  if (typeof spdx !== 'string') throw new Error(`${pkg}: package.json has no SPDX license string`);
  const expr = spdx.trim().replace(/^\((.*)\)$/, '$1');
  if (/[()]/.test(expr) || /\bWITH\b/.test(expr)) throw new Error(`${pkg}: cannot translate the license expression "${spdx}"`);
  return expr
    .split(/\s+/)
    .map((t) => {
      if (t === 'OR' || t === 'AND') return t.toLowerCase();
      const name = SPDX[t];
      if (!name) throw new Error(`${pkg}: no text for the license ${t}; add it to scripts/deb/copyright.mjs`);
      return name;
    })
    .join(' ');
}

// --- Copyright notices. ------------------------------------------------

/** A line that is a copyright notice, once comment markers are gone; not license boilerplate or a template. */
function notice(line) {
  const text = line
    .replace(/^\s*(\/\/+|\/\*+!?|\*+|#+|>)?\s*/, '')
    .replace(/\s*\*+\/\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (!/^(copyright\b|(\(c\)|©)\s*\d)/i.test(text)) return undefined;
  if (/^copyright(\s+(notices?|holders?|owners?|licen[cs]e|statement|law|and|or|to|of)\b|\s*[,.;:])/i.test(text)) return undefined;
  if (/\[yyyy\]|\{yyyy\}|<year>|name of copyright owner/i.test(text)) return undefined;
  // The notice on the text of a GNU license itself.
  if (/Free Software Foundation, Inc\. <https?:\/\/fsf\.org\/?>/.test(text)) return undefined;
  return text;
}

/** Notices that differ only in one year, as one with all the years. */
function mergeYears(notices) {
  const groups = new Map();
  const order = [];
  for (const n of notices) {
    const m = n.match(/^(copyright(?: \(c\))?) (\d{4}(?:-\d{4})?),? (.*)$/i);
    const key = m ? `${m[1]}\u0000${m[3]}` : n;
    if (!groups.has(key)) {
      groups.set(key, { head: m?.[1], rest: m?.[3], years: [], text: n });
      order.push(key);
    }
    if (m) groups.get(key).years.push(m[2]);
  }
  return order.map((key) => {
    const g = groups.get(key);
    if (!g.head || g.years.length < 2) return g.text;
    return `${g.head} ${[...new Set(g.years)].sort().join(', ')} ${g.rest}`;
  });
}

/** The notices in source comments, and each legal comment (`/*!`, which the bundle keeps) as a whole. */
function sourceNotices(text) {
  const notices = [];
  let inBlock = false;
  for (const line of text.split('\n')) {
    if (inBlock || /^\s*(\/\/|\/\*|\*)/.test(line)) {
      const n = notice(line);
      if (n) notices.push(n);
    }
    for (const m of line.matchAll(/\/\*|\*\//g)) inBlock = m[0] === '/*';
  }
  const legal = [...text.matchAll(/\/\*!([\s\S]*?)\*\//g)].map((m) => m[1].replace(/\s+/g, ' ').trim()).filter(Boolean);
  return { notices, legal };
}

const LICENSE_FILE = /^(licen[cs]e|copying)([-._].*)?$/i;
const NOTICE_FILE = /^notice(\..*)?$/i;

/** Text broken into lines of at most 78 characters (a longer word keeps its own line). */
function wrap(text) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > 78) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

// --- What the bundle holds. --------------------------------------------

const shipped = path.join(stage, 'usr/lib/berth/bundle');
if (!existsSync('dist/bundle-modules.json')) throw new Error('no dist/bundle-modules.json: run npm run build (scripts/bundle.mjs writes it)');
const { chunks } = JSON.parse(readFileSync('dist/bundle-modules.json', 'utf8'));
const shippedChunks = readdirSync(shipped).filter((f) => f.endsWith('.cjs'));
if (shippedChunks.sort().join() !== Object.keys(chunks).sort().join()) {
  throw new Error('dist/bundle-modules.json does not describe the bundle being packaged: run node scripts/bundle.mjs');
}

/** Bundled npm packages by directory (node_modules/NAME or node_modules/@SCOPE/NAME, possibly nested). */
const packages = new Map();
const RUNTIME = '\u0000rolldown/runtime.js';
for (const [chunk, modules] of Object.entries(chunks)) {
  for (const id of modules) {
    if (id.startsWith('dist/')) continue; // berth's own
    const dir = id === RUNTIME ? 'node_modules/rolldown' : id.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//)?.[1];
    if (!dir) throw new Error(`bundle module ${JSON.stringify(id)} is neither berth's nor an npm package's`);
    if (!packages.has(dir)) packages.set(dir, { chunks: new Set(), modules: [] });
    packages.get(dir).chunks.add(chunk);
    if (id !== RUNTIME) packages.get(dir).modules.push(id);
  }
}

function describe(dir) {
  const { chunks: inChunks, modules } = packages.get(dir);
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const entries = readdirSync(dir);
  const licenseFiles = entries.filter((f) => LICENSE_FILE.test(f));
  const noticeFiles = entries.filter((f) => NOTICE_FILE.test(f));
  const notices = [];
  for (const f of licenseFiles) for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) notices.push(notice(line));
  const legal = [];
  for (const id of modules) {
    const found = sourceNotices(readFileSync(id, 'utf8'));
    notices.push(...found.notices);
    legal.push(...found.legal);
  }
  let copyright = mergeYears([...new Set(notices.filter(Boolean))]);
  const comment = [];
  const what = dir === 'node_modules/rolldown' ? 'its runtime helpers (rolldown adds them to every bundle) are' : 'its code is';
  const where = [...inChunks]
    .sort()
    .map((c) => `usr/lib/berth/bundle/${c}`)
    .join(', ');
  comment.push(`${pkg.name} ${pkg.version} (package.json license: ${pkg.license}); ${what} in ${where}.`);
  if (!copyright.length) {
    const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
    copyright = [author ? `the ${pkg.name} authors (${author}, as package.json names the author)` : `the ${pkg.name} authors`];
    comment.push('Neither its license file nor its bundled code carries a copyright notice.');
  }
  const kept = [...new Set(legal)];
  if (kept.length) comment.push(`Legal comments in its bundled code: ${kept.map((l) => `"${l}"`).join('; ')}.`);
  const notes = comment.map(wrap);
  for (const f of noticeFiles) notes.push(`Its ${f} file reads:\n${readFileSync(path.join(dir, f), 'utf8').trim()}`);
  return { license: dep5License(pkg.name, pkg.license), copyright, comment: notes.join('\n') };
}

// --- Node.js. ----------------------------------------------------------

const stagedNode = path.join(stage, 'usr/lib/berth/node/bin/node');
const nodeVersion = execFileSync(stagedNode, ['--version'], { encoding: 'utf8' }).trim();
if (nodeVersion !== process.version) throw new Error(`the staged node is ${nodeVersion}, this script runs on ${process.version}: run both with the same node`);
// Where Node.js's installs keep its LICENSE: the official tarballs at the
// top of the tree, `make install` under share/doc/node, NodeSource's
// Debian package under share/doc/nodejs.
const prefix = path.dirname(path.dirname(realpathSync(process.execPath)));
const nodeLicense = ['LICENSE', 'share/doc/node/LICENSE', 'share/doc/nodejs/LICENSE'].map((f) => path.join(prefix, f)).find((f) => existsSync(f));
const upstreamLicense = `https://github.com/nodejs/node/blob/${nodeVersion}/LICENSE`;
let nodeCopyright = ['Copyright Node.js contributors. All rights reserved.', 'Copyright Joyent, Inc. and other Node contributors. All rights reserved.'];
if (nodeLicense) {
  copyFileSync(nodeLicense, path.join(stage, 'usr/lib/berth/node/LICENSE'));
  // The notices of Node.js itself: those before the list of the libraries it includes.
  const own = readFileSync(nodeLicense, 'utf8').split(/^The externally maintained libraries/m)[0];
  const found = own.split('\n').map(notice).filter(Boolean);
  if (found.length) nodeCopyright = [...new Set(found)];
} else {
  console.error(`berth: no LICENSE of Node.js ${nodeVersion} under ${prefix}; the copyright file points to ${upstreamLicense}`);
}
const nodeLicenseWhere = nodeLicense ? 'in /usr/lib/berth/node/LICENSE' : `at ${upstreamLicense} (the machine that built this package had no copy)`;

// --- The file. ---------------------------------------------------------

/** A DEP-5 field: continuation lines indented, empty lines as " .". */
function field(name, value) {
  const [first, ...rest] = value.split('\n');
  return [`${name}: ${first}`, ...rest.map((l) => (l.trim() ? ` ${l}` : ' .'))].join('\n');
}
const paragraph = (fields) =>
  Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => field(k, v))
    .join('\n');
const paragraphs = [];
const used = new Set();
const addFiles = (files, copyright, license, comment) => {
  for (const name of license.split(/ (?:and|or) /)) used.add(name);
  paragraphs.push(paragraph({ Files: files, Copyright: copyright.join('\n'), License: license, Comment: comment }));
};

paragraphs.push(
  paragraph({
    Format: 'https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name': 'berth',
    Comment: `Written by scripts/deb/copyright.mjs when berth ${version} was packaged.
Files are named as in the tree the package is built from: berth's source
(Files: *), the npm packages in node_modules/ whose code scripts/bundle.mjs
bundled into /usr/lib/berth/bundle/ (those, and no others, are listed), and
the Node.js runtime copied into /usr/lib/berth/node/ (named by that path).`,
  }),
);
addFiles(
  '*',
  ['berth developers'],
  'Apache-2.0',
  `berth itself: the daemon (its own modules in the bundle), the native
module and helpers, the unit, configuration, man pages, completions,
examples and documentation. The CRI services and messages it serves
(proto/cri/, compiled into the bundle) are declared as in Kubernetes'
cri-api, Copyright The Kubernetes Authors, also under the Apache License 2.0.`,
);
addFiles(
  'usr/lib/berth/node/*',
  nodeCopyright,
  'Expat and Node.js-components',
  `Node.js ${nodeVersion}, the runtime that built berth's bundle and its V8
code cache, copied from the machine that built this package.`,
);
for (const dir of [...packages.keys()].sort()) {
  const d = describe(dir);
  addFiles(`${dir}/*`, d.copyright, d.license, d.comment);
}

for (const name of [...used].sort()) {
  if (name === 'Node.js-components') {
    paragraphs.push(
      paragraph({
        License: `${name}
The node binary also contains the third-party components that Node.js is
built from (V8 among them), each under its own license. Node.js's LICENSE
file gives each of them with its license text; it is ${nodeLicenseWhere}.`,
      }),
    );
    continue;
  }
  if (!TEXTS[name]) throw new Error(`no text for the license ${name}`);
  paragraphs.push(paragraph({ License: `${name}\n${TEXTS[name]}` }));
}

writeFileSync(path.join(stage, 'usr/share/doc/berth/copyright'), `${paragraphs.join('\n\n')}\n`);
