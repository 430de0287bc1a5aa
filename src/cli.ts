import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { renderConfig } from './config/render.js';
import { KEYS, defaultConfig } from './config/schema.js';
import { startDaemon } from './daemon.js';
import { messageOf } from './errors.js';
import { createLogger } from './log.js';
import { versionInfo } from './version.js';

const USAGE = `usage: berth [serve] [flags]      run the CRI daemon (default)
       berth config [--default] [flags]  print the effective configuration as TOML
       berth version [--json]            print version, commit and CRI API version (also -v, --version)
       berth status [--json] [--listen SOCKET]  ask the running daemon for its state
       berth doctor [flags]              check the host's prerequisites, one line each
       berth check [--repair] [flags]    check the state on disk; --repair removes what is broken or orphaned
       berth help                        print this text (also -h, --help)

flags:
  --config FILE        configuration file (default /etc/berth/berth.conf)
  --config-dir DIR     drop-in directory, *.conf in lexical order (default /etc/berth/berth.conf.d)
${KEYS.filter((k) => k.flag)
  .map((k) => `  --${k.flag!.padEnd(19)}${k.doc}`)
  .join('\n')}
`;

/** Exit statuses: 0 success, 1 runtime failure, 2 usage or configuration error. */
export async function main(argv: string[]): Promise<number> {
  const flagOptions: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    'config-dir': { type: 'string' },
    default: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    repair: { type: 'boolean' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const k of KEYS) if (k.flag) flagOptions[k.flag] = { type: 'string', ...(k.spec.type === 'string-list' ? { multiple: true } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: flagOptions, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`berth: ${messageOf(err)}\n\n${USAGE}`);
    return 2;
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const command = values.version ? 'version' : (parsed.positionals[0] ?? 'serve');
  if (values.help || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.positionals.length > 1 || !['serve', 'config', 'version', 'status', 'doctor', 'check'].includes(command)) {
    process.stderr.write(`berth: unknown command "${parsed.positionals.join(' ')}"\n\n${USAGE}`);
    return 2;
  }
  if (command === 'version') {
    const info = await versionInfo();
    if (values.json) process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    else process.stdout.write(`berth ${info.version}\ncommit: ${info.gitCommit}\nCRI API: ${info.criApiVersion}\nnode: ${info.nodeVersion}\n`);
    return 0;
  }
  if (command === 'config' && values.default) {
    process.stdout.write(renderConfig(defaultConfig()));
    return 0;
  }
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    const flags: Record<string, string | string[] | undefined> = {};
    for (const k of KEYS) if (k.flag) flags[k.flag] = values[k.flag] as string | string[] | undefined;
    loaded = await loadConfig({
      configFile: values.config as string | undefined,
      configDir: values['config-dir'] as string | undefined,
      flags,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`berth: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (command === 'config') {
    process.stdout.write(renderConfig(loaded.config));
    return 0;
  }
  if (command === 'check') {
    const [{ checkCommand }, { answers }] = await Promise.all([import('./check.js'), import('./server/socket.js')]);
    return checkCommand(loaded.config, values.repair === true, () => answers(loaded.config.listen), process.stdout);
  }
  if (command === 'doctor') {
    const { doctorCommand } = await import('./doctor.js');
    return doctorCommand(loaded.config, process.stdout);
  }
  if (command === 'status') {
    const { statusCommand } = await import('./status-command.js');
    return statusCommand(loaded.config.listen, values.json === true, process.stdout, process.stderr);
  }
  const sources = {
    configFile: values.config as string | undefined,
    configDir: values['config-dir'] as string | undefined,
    flags: Object.fromEntries(KEYS.filter((k) => k.flag).map((k) => [k.flag!, values[k.flag!] as string | string[] | undefined])),
  };
  return serve(loaded.config, loaded.files, () => loadConfig(sources));
}

async function serve(config: Parameters<typeof startDaemon>[0], files: string[], reloadConfig: () => ReturnType<typeof loadConfig>): Promise<number> {
  if (process.getuid?.() !== 0) {
    // Namespaces, mounts, cgroups and runc all need root: say so in one line.
    process.stderr.write('berth: the daemon must run as root (it creates namespaces, mounts and cgroups); try sudo\n');
    return 1;
  }
  const log = await createLogger(config.log_level, config.log_format);
  log.info({ files }, files.length ? 'configuration loaded' : 'no configuration file: using embedded defaults');
  // A bug must not take the node's runtime down silently: log it, then exit
  // non-zero so a supervisor restarts berth (containers keep running).
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled promise rejection');
    process.exitCode = 1;
  });
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    log.fatal({ err }, `cannot start: ${messageOf(err)}`);
    process.stderr.write(`berth: ${messageOf(err)}\n`);
    // Whatever start-up opened (timers, watchers, sockets) must not keep a failed daemon alive.
    log.flush();
    process.exit(1);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'signal received');
    void daemon.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // SIGHUP (systemctl reload) re-reads the configuration; a bad one is logged and changes nothing.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'signal received: reloading the configuration');
    reloadConfig().then(
      (next) => daemon.reload(next.config),
      (err: unknown) => log.error({ err: messageOf(err) }, 'reload refused: the configuration is invalid; nothing changed'),
    );
  });
  await daemon.stopped;
  log.flush();
  // Work still pending (a stop waiting out a long grace period, a pull)
  // must not keep a stopped daemon alive; containers keep running.
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}
