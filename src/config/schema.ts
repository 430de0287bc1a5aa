/**
 * Every configuration key berth knows: its TOML path, type, default, the
 * command-line flag that overrides it and the sentence that documents it.
 * The loader validates against this table, `berth config` renders it and
 * conf/berth.conf is generated from it, so a key cannot exist in one place
 * and be missing in another.
 */

import path from 'node:path';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `auto`: text when stderr is a terminal (an operator watching), json otherwise (journald, a collector). */
export const LOG_FORMATS = ['json', 'text', 'auto'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface ImageConfig {
  registries_conf: string;
  global_auth_file: string;
  signature_policy: string;
  registries_d: string;
  pause_image: string;
  pull_progress_timeout: number;
  max_concurrent_downloads: number;
  zstd_max_window: number;
}

export const CGROUP_MANAGERS = ['cgroupfs', 'systemd'] as const;
export type CgroupManager = (typeof CGROUP_MANAGERS)[number];

export interface RuntimeConfig {
  default_runtime: string;
  cgroup_manager: CgroupManager;
  conmon: string;
  shm_size: number;
  pids_limit: number;
  default_ulimits: string[];
  default_capabilities: string[];
  log_size_max: number;
  container_create_timeout: number;
  runtime_timeout: number;
  conmon_cgroup: 'pod' | '';
  hooks_dirs: string[];
  cdi_spec_dirs: string[];
  max_metadata_size: number;
  max_config_size: number;
  max_listed_metadata_size: number;
}

export interface NetworkConfig {
  cni_config_dir: string;
  cni_plugin_dirs: string[];
  default_network: string;
  plugin_timeout: number;
  check_interval: number;
  cni_conf_template: string;
}

export interface StreamingConfig {
  address: string;
  port: number;
  tls_cert: string;
  tls_key: string;
  idle_timeout: number;
}

export interface StatsConfig {
  included_pod_metrics: string[];
  metrics_address: string;
}

export interface TracingConfig {
  endpoint: string;
  sampling_rate_per_million: number;
}

/** NRI (containerd/nri): plugins that see pods and containers; the keys are CRI-O's. */
export interface NriConfig {
  enable_nri: boolean;
  nri_listen: string;
  nri_plugin_dir: string;
  nri_plugin_config_dir: string;
  nri_disable_connections: boolean;
  nri_plugin_registration_timeout: number;
  nri_plugin_request_timeout: number;
}

/** One `[runtimes.<name>]` table: an OCI runtime a pod can ask for by handler name. */
export interface RuntimeHandlerConfig {
  runtime_path: string;
  runtime_root: string;
  runtime_type: 'oci';
}

/** A runtime handler's state directory (its `--root`), where its containers are known by id. */
export function runtimeRootOf(config: Pick<BerthConfig, 'runroot' | 'runtimes'>, name: string): string {
  return config.runtimes[name]?.runtime_root || path.join(config.runroot, 'runtimes', name);
}

export interface BerthConfig {
  version: number;
  listen: string;
  root: string;
  runroot: string;
  log_level: LogLevel;
  log_format: LogFormat;
  grpc_max_message_size: number;
  grpc_max_receive_message_size: number;
  shutdown_timeout: number;
  image: ImageConfig;
  runtime: RuntimeConfig;
  network: NetworkConfig;
  streaming: StreamingConfig;
  stats: StatsConfig;
  tracing: TracingConfig;
  nri: NriConfig;
  runtimes: Record<string, RuntimeHandlerConfig>;
}

export type KeyType =
  | { type: 'string'; absolutePath?: boolean; nonEmpty?: boolean; emptyAllowed?: boolean }
  | { type: 'integer'; min: number; max: number }
  | { type: 'duration' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'boolean' }
  | { type: 'string-list'; pattern?: RegExp; absolutePaths?: boolean };

interface KeyBase {
  /** Dotted TOML path, e.g. `image.pause_image`. */
  key: string;
  spec: KeyType;
  doc: string;
}

/** A key with a flag names its value's placeholder too, so that --help and berth(8) can say `--root DIR`. */
export type KeySpec = KeyBase &
  (
    | { flag?: undefined; placeholder?: undefined }
    | {
        /** Long command-line flag that sets this key, without the dashes. */
        flag: string;
        /** What the flag's value is, in usage texts: DIR, FILE, SOCKET. */
        placeholder: string;
      }
  );

export const SECTIONS: Record<string, string> = {
  '': 'berth daemon configuration. Every key is optional: these are the embedded defaults.',
  image: 'Image pulls and storage.',
  runtime: 'Containers: the OCI runtime, its monitor (conmon) and the defaults every container gets.',
  network: 'Pod networking through CNI plugins.',
  streaming: 'The HTTP server behind Exec, Attach and PortForward (SPDY/3.1 and WebSocket).',
  stats: 'Statistics and metrics the kubelet reads through the CRI.',
  tracing: 'OpenTelemetry traces of CRI calls and their work, exported over OTLP/HTTP.',
  nri: 'NRI (Node Resource Interface) plugins, as containerd and CRI-O run them: they register on a socket and are told of every pod and container.',
};

/**
 * `[runtimes.<name>]` tables: each names an OCI runtime binary; a pod picks
 * one with RunPodSandboxRequest.runtime_handler ("" means default_runtime).
 */
export const RUNTIME_HANDLER_KEYS: Record<keyof RuntimeHandlerConfig, string> = {
  runtime_path: 'Path of the OCI runtime binary.',
  runtime_root: "The runtime's state directory (its --root); empty means <runroot>/runtimes/<name>.",
  runtime_type: 'How berth drives it: "oci" (through conmon, like runc and crun).',
};

export const KEYS: readonly KeySpec[] = [
  { key: 'version', spec: { type: 'integer', min: 1, max: 1 }, doc: 'Version of this configuration format.' },
  {
    key: 'listen',
    spec: { type: 'string', absolutePath: true },
    flag: 'listen',
    placeholder: 'SOCKET',
    doc: 'Unix socket the CRI gRPC services are served on.',
  },
  {
    key: 'root',
    spec: { type: 'string', absolutePath: true },
    flag: 'root',
    placeholder: 'DIR',
    doc: 'Directory for persistent state: images, layers, container records.',
  },
  {
    key: 'runroot',
    spec: { type: 'string', absolutePath: true },
    flag: 'runroot',
    placeholder: 'DIR',
    doc: 'Directory for volatile state that must not survive a reboot.',
  },
  { key: 'log_level', spec: { type: 'enum', values: LOG_LEVELS }, flag: 'log-level', placeholder: 'LEVEL', doc: 'Least severe log level written.' },
  {
    key: 'log_format',
    spec: { type: 'enum', values: LOG_FORMATS },
    flag: 'log-format',
    placeholder: 'FORMAT',
    doc: 'Log line format: json (one object per line), text (human readable) or auto (text when stderr is a terminal, json otherwise, as under systemd).',
  },
  {
    key: 'grpc_max_message_size',
    spec: { type: 'integer', min: 16 << 20, max: 1 << 30 },
    doc: 'Largest gRPC message berth sends, in bytes (a List answer for crictl may exceed what the kubelet receives, 16 MiB).',
  },
  {
    key: 'grpc_max_receive_message_size',
    spec: { type: 'integer', min: 1 << 20, max: 1 << 30 },
    doc: 'Largest gRPC request berth accepts, in bytes (the kubelet sends at most 16 MiB, containerd accepts as much).',
  },
  { key: 'shutdown_timeout', spec: { type: 'duration' }, doc: 'How long SIGTERM waits for in-flight calls before closing them.' },
  {
    key: 'image.registries_conf',
    spec: { type: 'string', absolutePath: true },
    flag: 'registries-conf',
    placeholder: 'FILE',
    doc: 'containers-registries.conf(5) v2 file: mirrors, insecure and blocked registries, aliases.',
  },
  {
    key: 'image.global_auth_file',
    spec: { type: 'string', absolutePath: true, emptyAllowed: true },
    flag: 'global-auth-file',
    placeholder: 'FILE',
    doc: 'containers-auth.json(5) file (what podman login and skopeo login write) whose credentials are used for pulls that bring none; the most specific of registry, registry/namespace or registry/repository keys wins; re-read when it changes ("" for none).',
  },
  {
    key: 'image.signature_policy',
    spec: { type: 'string', absolutePath: true },
    flag: 'signature-policy',
    placeholder: 'FILE',
    doc: 'containers-policy.json(5) checked on every pull before any layer is fetched (insecureAcceptAnything, reject, signedBy with GPG keys, sigstoreSigned with public keys; scopes from the image down to the host); re-read when it changes; a missing file refuses every pull, as for CRI-O.',
  },
  {
    key: 'image.registries_d',
    spec: { type: 'string', absolutePath: true },
    flag: 'registries-d',
    placeholder: 'DIR',
    doc: 'containers-registries.d(5) directory: where GPG signatures are stored (lookaside) and whether sigstore signatures are attached to images (use-sigstore-attachments).',
  },
  {
    key: 'image.pause_image',
    spec: { type: 'string', nonEmpty: true },
    doc: 'Infra image for pods that share a PID namespace; reported as pinned so it is never garbage-collected.',
  },
  { key: 'image.pull_progress_timeout', spec: { type: 'duration' }, doc: 'A pull that receives no bytes for this long fails ("0" never times out).' },
  { key: 'image.max_concurrent_downloads', spec: { type: 'integer', min: 1, max: 64 }, doc: 'Layers of one pull downloaded at the same time.' },
  {
    key: 'image.zstd_max_window',
    spec: { type: 'integer', min: 1 << 20, max: 2 ** 31 },
    doc: 'Largest window, in bytes, a zstd layer may declare (rounded up to a power of two); a layer asking for more is refused before its window is allocated. zstd levels up to 19 use at most 8 MiB; --ultra -22 needs 128 MiB.',
  },
  { key: 'runtime.default_runtime', spec: { type: 'string', nonEmpty: true }, doc: 'The [runtimes.<name>] used when a pod names no runtime handler.' },
  {
    key: 'runtime.cgroup_manager',
    spec: { type: 'enum', values: CGROUP_MANAGERS },
    flag: 'cgroup-manager',
    placeholder: 'MANAGER',
    doc: 'cgroupfs (write cgroup files directly) or systemd (cgroups as transient units); RuntimeConfig reports it to the kubelet.',
  },
  { key: 'runtime.conmon', spec: { type: 'string', absolutePath: true }, doc: 'The conmon binary that supervises each container.' },
  {
    key: 'runtime.max_metadata_size',
    spec: { type: 'integer', min: 4 << 10, max: 16 << 20 },
    doc: 'Largest labels, annotations and names of one pod or container, in bytes (Kubernetes itself allows 256 KiB of annotations); more is INVALID_ARGUMENT.',
  },
  {
    key: 'runtime.max_config_size',
    spec: { type: 'integer', min: 64 << 10, max: 1 << 30 },
    doc: 'Largest RunPodSandbox or CreateContainer config, in bytes as stored (JSON); more is INVALID_ARGUMENT.',
  },
  {
    key: 'runtime.max_listed_metadata_size',
    spec: { type: 'integer', min: 64 << 10, max: 1 << 30 },
    doc: "Largest labels, annotations and names of all pods together (and of all containers together), in bytes; a create past it is RESOURCE_EXHAUSTED, so List answers stay inside the kubelet's 16 MiB.",
  },
  { key: 'runtime.shm_size', spec: { type: 'integer', min: 1 << 20, max: 2 ** 40 }, doc: "Size in bytes of each pod's /dev/shm tmpfs." },
  { key: 'runtime.pids_limit', spec: { type: 'integer', min: 0, max: 2 ** 22 }, doc: 'Default maximum number of processes in a container ("0": no limit).' },
  {
    key: 'runtime.default_ulimits',
    spec: { type: 'string-list', pattern: /^[a-z]+=\d+(:\d+)?$/ },
    doc: 'Resource limits every container gets, as "name=soft[:hard]" (containers never inherit the daemon\'s own).',
  },
  {
    key: 'runtime.default_capabilities',
    spec: { type: 'string-list', pattern: /^[A-Z_]+$/ },
    doc: 'Capabilities of a non-privileged container before the CRI request adds or drops any.',
  },
  {
    key: 'runtime.log_size_max',
    spec: { type: 'integer', min: -1, max: 2 ** 50 },
    doc: 'Largest container log file in bytes before conmon truncates it ("-1": unlimited; the kubelet rotates logs itself).',
  },
  { key: 'runtime.container_create_timeout', spec: { type: 'duration' }, doc: 'How long creating a container through conmon and the OCI runtime may take.' },
  {
    key: 'runtime.cdi_spec_dirs',
    spec: { type: 'string-list', absolutePaths: true },
    flag: 'cdi-spec-dir',
    placeholder: 'DIR',
    doc: "Directories of CDI spec files (JSON or YAML, cdiVersion 0.3.0 to 1.0.0), a later directory overriding an earlier one's devices; devices named in CreateContainer (CDIDevices, cdi.k8s.io/ annotations) get their edits; re-read on change.",
  },
  {
    key: 'runtime.hooks_dirs',
    spec: { type: 'string-list', absolutePaths: true },
    flag: 'hooks-dir',
    placeholder: 'DIR',
    doc: "Directories of OCI hook files (oci-hooks(5), schema 1.0.0), a file in a later directory masking the same name in an earlier one; matching hooks are injected into containers' specs (and poststop hooks run when a pod stops); re-read on change, broken files logged and skipped.",
  },
  {
    key: 'runtime.conmon_cgroup',
    spec: { type: 'enum', values: ['pod', ''] },
    doc: 'Where each container\'s conmon runs: "pod" (beside the pod\'s containers: the cgroup <pod parent>/berth-conmon-<id> with cgroupfs, the transient scope berth-conmon-<id>.scope in the pod\'s slice with systemd; so restarting berth under systemd keeps containers running) or "" (berth\'s own cgroup).',
  },
  {
    key: 'runtime.runtime_timeout',
    spec: { type: 'duration' },
    doc: 'How long one call of the OCI runtime (start, kill, delete, state, update) or of berth-pinns may take before it is killed and the request fails with DEADLINE_EXCEEDED.',
  },
  {
    key: 'network.cni_config_dir',
    spec: { type: 'string', absolutePath: true },
    flag: 'cni-config-dir',
    placeholder: 'DIR',
    doc: 'Directory of CNI network configurations (.conflist, .conf, .json); the first valid one in lexical order is used.',
  },
  {
    key: 'network.cni_plugin_dirs',
    spec: { type: 'string-list', absolutePaths: true },
    flag: 'cni-plugin-dir',
    placeholder: 'DIR',
    doc: 'Directories searched for CNI plugin binaries, in order (the flag may repeat).',
  },
  { key: 'network.default_network', spec: { type: 'string' }, doc: 'Name of the CNI network to use instead of the first valid one ("" for the first).' },
  { key: 'network.plugin_timeout', spec: { type: 'duration' }, doc: 'How long one CNI plugin call may take before it is killed.' },
  {
    key: 'network.check_interval',
    spec: { type: 'duration' },
    doc: 'How often CNI CHECK verifies every pod\'s network ("0": only once, right after the pod\'s ADD; verbose PodSandboxStatus shows the last verdict).',
  },
  {
    key: 'network.cni_conf_template',
    spec: { type: 'string' },
    doc: 'A CNI configuration template; UpdateRuntimeConfig writes it into cni_config_dir with {{.PodCIDR}} filled in ("": none).',
  },
  {
    key: 'streaming.address',
    spec: { type: 'string', nonEmpty: true },
    flag: 'stream-address',
    placeholder: 'ADDRESS',
    doc: 'Address the streaming server listens on; the URLs Exec, Attach and PortForward return point here.',
  },
  {
    key: 'streaming.port',
    spec: { type: 'integer', min: 0, max: 65535 },
    flag: 'stream-port',
    placeholder: 'PORT',
    doc: 'Port of the streaming server ("0": any free port).',
  },
  { key: 'streaming.tls_cert', spec: { type: 'string' }, doc: 'PEM certificate for HTTPS streaming ("": plain HTTP).' },
  { key: 'streaming.tls_key', spec: { type: 'string' }, doc: 'PEM private key for HTTPS streaming.' },
  { key: 'streaming.idle_timeout', spec: { type: 'duration' }, doc: 'A streaming connection with no traffic for this long is closed.' },
  {
    key: 'stats.included_pod_metrics',
    spec: { type: 'string-list', pattern: /^(cpu|memory|network|disk|process)$/ },
    doc: 'Metric groups ListPodSandboxMetrics reports: cpu, memory, network, disk, process.',
  },
  {
    key: 'stats.metrics_address',
    spec: { type: 'string' },
    flag: 'metrics-address',
    placeholder: 'HOST:PORT',
    doc: 'host:port serving berth\'s Prometheus metrics on /metrics ("": off).',
  },
  {
    key: 'tracing.endpoint',
    spec: { type: 'string' },
    flag: 'tracing-endpoint',
    placeholder: 'URL',
    doc: 'Base URL of an OpenTelemetry collector (http://127.0.0.1:4318): a span for every CRI call and its work (image pulls and layers, conmon and runc, CNI plugins, exec) is sent to <endpoint>/v1/traces as OTLP/HTTP protobuf, continuing the trace the kubelet sends ("": tracing off).',
  },
  {
    key: 'tracing.sampling_rate_per_million',
    spec: { type: 'integer', min: 0, max: 1_000_000 },
    doc: "Of the traces berth starts, how many per million are recorded; a trace the client continues follows the client's decision.",
  },
  {
    key: 'nri.enable_nri',
    spec: { type: 'boolean' },
    doc: 'Serve NRI: plugins connect to nri_listen, are given every pod and container, are told of each one created, started, stopped and removed, and may adjust containers as they are created.',
  },
  { key: 'nri.nri_listen', spec: { type: 'string', absolutePath: true, nonEmpty: true }, doc: 'The socket NRI plugins connect to (0600, its directory 0700).' },
  {
    key: 'nri.nri_plugin_dir',
    spec: { type: 'string', absolutePath: true, emptyAllowed: true },
    doc: 'Plugins berth starts itself, in index order, before it listens: executables named NN-name ("": none).',
  },
  {
    key: 'nri.nri_plugin_config_dir',
    spec: { type: 'string', absolutePath: true, emptyAllowed: true },
    doc: 'Where a started plugin finds its configuration: NN-name.conf, else name.conf.',
  },
  {
    key: 'nri.nri_disable_connections',
    spec: { type: 'boolean' },
    doc: 'Do not listen for plugins that connect by themselves (the ones berth starts still run).',
  },
  {
    key: 'nri.nri_plugin_registration_timeout',
    spec: { type: 'duration' },
    doc: 'How long a plugin that connected may take to register; past it, it is disconnected.',
  },
  {
    key: 'nri.nri_plugin_request_timeout',
    spec: { type: 'duration' },
    doc: 'How long a plugin may take to answer one call; past it, it is disconnected, and what it was asked goes on without it.',
  },
];

export function defaultConfig(): BerthConfig {
  return {
    version: 1,
    listen: '/run/berth/berth.sock',
    root: '/var/lib/berth',
    runroot: '/run/berth',
    log_level: 'info',
    log_format: 'auto',
    grpc_max_message_size: 80 << 20,
    grpc_max_receive_message_size: 16 << 20,
    shutdown_timeout: 30_000,
    image: {
      registries_conf: '/etc/containers/registries.conf',
      global_auth_file: '',
      signature_policy: '/etc/containers/policy.json',
      registries_d: '/etc/containers/registries.d',
      pause_image: 'registry.k8s.io/pause:3.10',
      pull_progress_timeout: 60_000,
      max_concurrent_downloads: 3,
      zstd_max_window: 64 << 20,
    },
    runtime: {
      default_runtime: 'runc',
      cgroup_manager: 'cgroupfs',
      conmon: '/usr/bin/conmon',
      shm_size: 64 << 20,
      max_metadata_size: 256 << 10,
      max_config_size: 4 << 20,
      max_listed_metadata_size: 12 << 20,
      pids_limit: 0,
      default_ulimits: ['nofile=1048576:1048576'],
      default_capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'SETGID', 'SETUID', 'SETPCAP', 'NET_BIND_SERVICE', 'KILL'],
      log_size_max: -1,
      container_create_timeout: 240_000,
      runtime_timeout: 60_000,
      conmon_cgroup: 'pod',
      hooks_dirs: ['/usr/share/containers/oci/hooks.d', '/etc/containers/oci/hooks.d'],
      cdi_spec_dirs: ['/etc/cdi', '/var/run/cdi'],
    },
    network: {
      cni_config_dir: '/etc/cni/net.d',
      cni_plugin_dirs: ['/opt/cni/bin', '/usr/lib/cni'],
      default_network: '',
      plugin_timeout: 60_000,
      check_interval: 0,
      cni_conf_template: '',
    },
    stats: { included_pod_metrics: ['cpu', 'memory', 'network', 'disk', 'process'], metrics_address: '' },
    tracing: { endpoint: '', sampling_rate_per_million: 1_000_000 },
    nri: {
      enable_nri: false,
      nri_listen: '/var/run/nri/nri.sock',
      nri_plugin_dir: '/opt/nri/plugins',
      nri_plugin_config_dir: '/etc/nri/conf.d',
      nri_disable_connections: false,
      nri_plugin_registration_timeout: 5000,
      nri_plugin_request_timeout: 2000,
    },
    streaming: { address: '127.0.0.1', port: 0, tls_cert: '', tls_key: '', idle_timeout: 4 * 3_600_000 },
    runtimes: {
      runc: { runtime_path: '/usr/sbin/runc', runtime_root: '', runtime_type: 'oci' },
    },
  };
}
