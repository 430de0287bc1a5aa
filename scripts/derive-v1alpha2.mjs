// Writes proto/cri/v1alpha2.proto: CRI runtime.v1alpha2 (what kubelets
// 1.20-1.25 speak) as the part of berth's runtime.v1 proto that
// proto/cri/upstream-v1alpha2.outline lists. Every message, field, enum
// value and RPC of the outline must exist in v1 with the same number, type
// and label, or this script fails: v1alpha2 is then served by v1's handlers
// without translation. The one type difference cri-api has, KeyValue.value
// (string in v1alpha2, bytes in v1 since v0.36.3), has the same wire form
// and is written as the outline says.
//
//   node scripts/derive-v1alpha2.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { protoOutline } from './proto-outline-lib.mjs';

const V1 = 'runtime.v1.';
const A2 = 'runtime.v1alpha2.';
const v1Lines = new Set(protoOutline(readFileSync('proto/cri/api.proto', 'utf8')));
const wanted = readFileSync('proto/cri/upstream-v1alpha2.outline', 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'));

const messages = new Map();
const enums = new Map();
const services = new Map();
const problems = [];
const SAME_WIRE = new Set(['string bytes', 'bytes string']);

for (const line of wanted) {
  const asV1 = line.replaceAll(A2, V1);
  const message = /^message runtime\.v1alpha2\.(\w+)$/.exec(line);
  const enumDecl = /^enum runtime\.v1alpha2\.([\w.]+)$/.exec(line);
  const service = /^service runtime\.v1alpha2\.(\w+)$/.exec(line);
  const field = /^field runtime\.v1alpha2\.(\w+)\.(\w+) = (\d+) (singular|repeated|map<\w+>) ([\w.]+)$/.exec(line);
  const value = /^value runtime\.v1alpha2\.([\w.]+)\.(\w+) = (-?\d+)$/.exec(line);
  const rpc = /^rpc runtime\.v1alpha2\.(\w+)\.(\w+)\((stream )?runtime\.v1alpha2\.(\w+)\) returns \((stream )?runtime\.v1alpha2\.(\w+)\)$/.exec(line);
  if (message) messages.set(message[1], messages.get(message[1]) ?? []);
  else if (enumDecl) enums.set(enumDecl[1], enums.get(enumDecl[1]) ?? []);
  else if (service) services.set(service[1], services.get(service[1]) ?? []);
  else if (field) {
    const [, msg, name, num, label, type] = field;
    if (!v1Lines.has(asV1)) {
      const other = type === 'string' ? 'bytes' : type === 'bytes' ? 'string' : undefined;
      const twin = other && asV1.replace(/ (string|bytes)$/, ` ${other}`);
      if (!(twin && v1Lines.has(twin) && SAME_WIRE.has(`${type} ${other}`))) problems.push(`not in v1 as such: ${asV1}`);
    }
    const list = messages.get(msg) ?? [];
    list.push({ name, num: Number(num), label, type: type.startsWith(A2) ? type.slice(A2.length) : type });
    messages.set(msg, list);
  } else if (value) {
    if (!v1Lines.has(asV1)) problems.push(`not in v1: ${asV1}`);
    const list = enums.get(value[1]) ?? [];
    list.push({ name: value[2], num: Number(value[3]) });
    enums.set(value[1], list);
  } else if (rpc) {
    if (!v1Lines.has(asV1)) problems.push(`not in v1: ${asV1}`);
    const list = services.get(rpc[1]) ?? [];
    list.push({ name: rpc[2], reqStream: Boolean(rpc[3]), req: rpc[4], resStream: Boolean(rpc[5]), res: rpc[6] });
    services.set(rpc[1], list);
  } else problems.push(`unknown outline line: ${line}`);
}
if (problems.length > 0) {
  console.error(`derive-v1alpha2: v1alpha2 is not a part of berth's v1:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const out = [
  '// CRI runtime.v1alpha2, the API kubelets 1.20-1.25 speak: the part of',
  "// proto/cri/api.proto that cri-api's v1alpha2 has, written by",
  '// scripts/derive-v1alpha2.mjs (do not edit; see that script).',
  'syntax = "proto3";',
  '',
  'package runtime.v1alpha2;',
  'option go_package = "k8s.io/cri-api/pkg/apis/runtime/v1alpha2";',
  '',
];
for (const [name, rpcs] of [...services].sort(([a], [b]) => byName(a, b))) {
  out.push(`service ${name} {`);
  for (const r of rpcs) out.push(`  rpc ${r.name}(${r.reqStream ? 'stream ' : ''}${r.req}) returns (${r.resStream ? 'stream ' : ''}${r.res}) {}`);
  out.push('}', '');
}
const enumLines = (name, values, indent) => [
  `${indent}enum ${name} {`,
  ...values.sort((a, b) => a.num - b.num).map((v) => `${indent}  ${v.name} = ${v.num};`),
  `${indent}}`,
];
for (const [name, fields] of [...messages].sort(([a], [b]) => byName(a, b))) {
  out.push(`message ${name} {`);
  // Enums declared inside a message (SecurityProfile.ProfileType).
  for (const [enumName, values] of enums) {
    if (enumName.startsWith(`${name}.`)) out.push(...enumLines(enumName.slice(name.length + 1), values, '  '));
  }
  for (const f of fields.sort((a, b) => a.num - b.num)) {
    const map = /^map<(\w+)>$/.exec(f.label);
    const decl = map ? `map<${map[1]}, ${f.type}>` : f.label === 'repeated' ? `repeated ${f.type}` : f.type;
    out.push(`  ${decl} ${f.name} = ${f.num};`);
  }
  out.push('}', '');
}
for (const [name, values] of [...enums].sort(([a], [b]) => byName(a, b))) {
  if (!name.includes('.')) out.push(...enumLines(name, values, ''), '');
}
writeFileSync('proto/cri/v1alpha2.proto', `${out.join('\n').trimEnd()}\n`);
