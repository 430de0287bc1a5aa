import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { UpdateRuntimeConfigRequest__Output } from '../../generated/runtime/v1/UpdateRuntimeConfigRequest.js';
import type { UpdateRuntimeConfigResponse } from '../../generated/runtime/v1/UpdateRuntimeConfigResponse.js';
import { failedPrecondition, invalidArgument, messageOf } from '../../errors.js';
import { writeFileAtomic } from '../../util/fs.js';
import type { CallContext } from '../deps.js';

/** The file a configured template is rendered to: first in lexical order, so it wins. */
export const TEMPLATE_OUTPUT = '10-berth-template.conflist';

/**
 * The kubelet pushes the node's pod CIDR. berth keeps it for the
 * `ipRanges` capability and, when `network.cni_conf_template` is set,
 * writes a CNI configuration from the template with {{.PodCIDR}} filled in.
 */
export async function updateRuntimeConfig(ctx: CallContext, req: UpdateRuntimeConfigRequest__Output): Promise<UpdateRuntimeConfigResponse> {
  const cidr = req.runtimeConfig?.networkConfig?.podCidr ?? '';
  if (!cidr) return {};
  for (const c of cidr.split(',')) {
    if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(c.trim())) throw invalidArgument(`pod CIDR "${c}" is not a CIDR`);
  }
  ctx.deps.network.setPodCidr(cidr);
  const template = ctx.deps.config.network.cni_conf_template;
  if (template) {
    let text: string;
    try {
      text = await readFile(template, 'utf8');
    } catch (err) {
      throw failedPrecondition(`cannot read the CNI configuration template ${template}: ${messageOf(err)}`);
    }
    const first = cidr.split(',')[0]!.trim();
    const rendered = text.replaceAll('{{.PodCIDR}}', first).replaceAll('{{.PodCIDRRanges}}', cidr);
    await writeFileAtomic(path.join(ctx.deps.config.network.cni_config_dir, TEMPLATE_OUTPUT), rendered);
    ctx.log.info({ podCidr: cidr }, 'wrote the CNI configuration from the template');
  }
  return {};
}
