/**
 * Every configuration key berth knows: its TOML path, type, default, the
 * command-line flag that overrides it and the sentence that documents it.
 * The loader validates against this table, `berth config` renders it and
 * conf/berth.conf is generated from it, so a key cannot exist in one place
 * and be missing in another.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface ImageConfig {
  registries_conf: string;
  pause_image: string;
  pull_progress_timeout: number;
  max_concurrent_downloads: number;
}

export interface BerthConfig {
  version: number;
  listen: string;
  root: string;
  runroot: string;
  log_level: LogLevel;
  log_format: LogFormat;
  grpc_max_message_size: number;
  shutdown_timeout: number;
  image: ImageConfig;
}

export type KeyType =
  | { type: 'string'; absolutePath?: boolean; nonEmpty?: boolean }
  | { type: 'integer'; min: number; max: number }
  | { type: 'duration' }
  | { type: 'enum'; values: readonly string[] };

export interface KeySpec {
  /** Dotted TOML path, e.g. `image.pause_image`. */
  key: string;
  spec: KeyType;
  doc: string;
  /** Long command-line flag that sets this key, without the dashes. */
  flag?: string;
}

export const SECTIONS: Record<string, string> = {
  '': 'berth daemon configuration. Every key is optional: these are the embedded defaults.',
  image: 'Image pulls and storage.',
};

export const KEYS: readonly KeySpec[] = [
  { key: 'version', spec: { type: 'integer', min: 1, max: 1 }, doc: 'Version of this configuration format.' },
  { key: 'listen', spec: { type: 'string', absolutePath: true }, flag: 'listen',
    doc: 'Unix socket the CRI gRPC services are served on.' },
  { key: 'root', spec: { type: 'string', absolutePath: true }, flag: 'root',
    doc: 'Directory for persistent state: images, layers, container records.' },
  { key: 'runroot', spec: { type: 'string', absolutePath: true }, flag: 'runroot',
    doc: 'Directory for volatile state that must not survive a reboot.' },
  { key: 'log_level', spec: { type: 'enum', values: LOG_LEVELS }, flag: 'log-level',
    doc: 'Least severe log level written.' },
  { key: 'log_format', spec: { type: 'enum', values: LOG_FORMATS }, flag: 'log-format',
    doc: 'Log line format: json (one object per line) or text (human readable).' },
  { key: 'grpc_max_message_size', spec: { type: 'integer', min: 16 << 20, max: 1 << 30 },
    doc: 'Largest gRPC message, in bytes, sent or received (the kubelet uses 16 MiB).' },
  { key: 'shutdown_timeout', spec: { type: 'duration' },
    doc: 'How long SIGTERM waits for in-flight calls before closing them.' },
  { key: 'image.registries_conf', spec: { type: 'string', absolutePath: true }, flag: 'registries-conf',
    doc: 'containers-registries.conf(5) v2 file: mirrors, insecure and blocked registries, aliases.' },
  { key: 'image.pause_image', spec: { type: 'string', nonEmpty: true },
    doc: 'Infra image for pods that share a PID namespace; reported as pinned so it is never garbage-collected.' },
  { key: 'image.pull_progress_timeout', spec: { type: 'duration' },
    doc: 'A pull that receives no bytes for this long fails ("0" never times out).' },
  { key: 'image.max_concurrent_downloads', spec: { type: 'integer', min: 1, max: 64 },
    doc: 'Layers of one pull downloaded at the same time.' },
];

export function defaultConfig(): BerthConfig {
  return {
    version: 1,
    listen: '/run/berth/berth.sock',
    root: '/var/lib/berth',
    runroot: '/run/berth',
    log_level: 'info',
    log_format: 'json',
    grpc_max_message_size: 80 << 20,
    shutdown_timeout: 30_000,
    image: {
      registries_conf: '/etc/containers/registries.conf',
      pause_image: 'registry.k8s.io/pause:3.10',
      pull_progress_timeout: 60_000,
      max_concurrent_downloads: 3,
    },
  };
}
