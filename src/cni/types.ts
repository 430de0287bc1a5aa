/**
 * CNI network configuration and result types (CNI specification 0.3.0 to
 * 1.1.0), as berth reads them.
 */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  plugins: PluginConf[];
}

export interface CniIp {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: CniIp[];
  routes?: unknown[];
  dns?: unknown;
  [key: string]: unknown;
}

/** A discovered configuration file and what became of it. */
export interface LoadedConfigFile {
  file: string;
  config?: NetworkConfigList;
  error?: string;
}
