import protobuf from 'protobufjs';

/**
 * The outline of a proto file: every message field (full message name,
 * field name, number, type, label or map key type, oneof), enum value and
 * RPC (request, response, streaming), sorted. Two files with the same
 * outline are the same on the wire and to generated code.
 * @param {string} text
 * @returns {string[]}
 */
export function protoOutline(text) {
  // gogoproto's options (v1alpha2's file sets them) shape Go code, not the wire.
  const plain = text.replace(/^import "github\.com\/gogo\/protobuf\/gogoproto\/gogo\.proto";$/m, '').replace(/^option \(gogoproto\.[^;]*;$/gm, '');
  const root = protobuf.parse(plain, { keepCase: true }).root.resolveAll();
  const lines = [];
  const visit = (ns) => {
    for (const obj of ns.nestedArray) {
      const name = obj.fullName.replace(/^\./, '');
      if (obj instanceof protobuf.Type) {
        lines.push(`message ${name}`);
        for (const f of obj.fieldsArray) {
          const label = f.map ? `map<${f.keyType}>` : f.repeated ? 'repeated' : f.options?.proto3_optional ? 'optional' : 'singular';
          const type = f.resolvedType ? f.resolvedType.fullName.replace(/^\./, '') : f.type;
          const oneof = f.partOf && !f.options?.proto3_optional ? ` oneof ${f.partOf.name}` : '';
          lines.push(`field ${name}.${f.name} = ${f.id} ${label} ${type}${oneof}`);
        }
      } else if (obj instanceof protobuf.Enum) {
        lines.push(`enum ${name}`);
        for (const [k, v] of Object.entries(obj.values)) lines.push(`value ${name}.${k} = ${v}`);
      } else if (obj instanceof protobuf.Service) {
        lines.push(`service ${name}`);
        for (const m of obj.methodsArray) {
          const req = `${m.requestStream ? 'stream ' : ''}${m.resolvedRequestType.fullName.replace(/^\./, '')}`;
          const res = `${m.responseStream ? 'stream ' : ''}${m.resolvedResponseType.fullName.replace(/^\./, '')}`;
          lines.push(`rpc ${name}.${m.name}(${req}) returns (${res})`);
        }
      }
      if (obj.nestedArray) visit(obj);
    }
  };
  visit(root);
  return lines.sort();
}
