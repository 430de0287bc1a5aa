import type { VersionRequest__Output } from '../../generated/runtime/v1/VersionRequest.js';
import type { VersionResponse } from '../../generated/runtime/v1/VersionResponse.js';
import { versionInfo } from '../../version.js';
import type { CallContext } from '../deps.js';

/** The kubelet refuses to start unless `version` is exactly "0.1.0" (the CRI's own version). */
export const KUBELET_API_VERSION = '0.1.0';

export async function version(_ctx: CallContext, _req: VersionRequest__Output): Promise<VersionResponse> {
  const info = await versionInfo();
  return { version: KUBELET_API_VERSION, runtimeName: 'berth', runtimeVersion: info.version, runtimeApiVersion: 'v1' };
}

/** The same to a runtime.v1alpha2 caller (kubelets 1.20-1.25), which checks runtime_api_version. */
export async function versionV1alpha2(ctx: CallContext, req: VersionRequest__Output): Promise<VersionResponse> {
  return { ...(await version(ctx, req)), runtimeApiVersion: 'v1alpha2' };
}
