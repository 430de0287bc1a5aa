import { type FlagValues, parseCommandLine } from './cli-parse.js';
import { renderUsage } from './cli-usage.js';
import { ConfigError, loadConfig } from './config/load.js';
import { renderConfig } from './config/render.js';
import { KEYS, defaultConfig } from './config/schema.js';
import { startDaemon } from './daemon.js';
import { messageOf } from './errors.js';
import { createLogger, stderrTraits } from './log.js';
import { reportStartFailure } from './start-failure.js';
import { versionInfo } from './version.js';

/** Where a command writes; the process's own streams but in tests. */
export interface CliStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Exit statuses: 0 success, 1 runtime failure, 2 usage or configuration error. */
export async function main(argv: string[], io: CliStreams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseCommandLine(argv);
  if (!parsed.ok) {
    io.stderr.write(`berth: ${parsed.message} (see berth help)\n`);
    return 2;
  }
  const { command, values } = parsed;
  if (command.name === 'help') {
    io.stdout.write(renderUsage());
    return 0;
  }
  if (command.name === 'version') {
    const info = await versionInfo();
    if (values.json) io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    else io.stdout.write(`berth ${info.version}\ncommit: ${info.gitCommit}\nCRI API: ${info.criApiVersion}\nnode: ${info.nodeVersion}\n`);
    return 0;
  }
  if (command.name === 'config' && values.default) {
    io.stdout.write(renderConfig(defaultConfig()));
    return 0;
  }
  const sources = configSources(values);
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig(sources);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`berth: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (command.name === 'config') {
    io.stdout.write(renderConfig(loaded.config));
    return 0;
  }
  if (command.name === 'check') {
    const [{ checkCommand }, { answers }] = await Promise.all([import('./check.js'), import('./server/socket.js')]);
    return checkCommand(loaded.config, values.repair === true, () => answers(loaded.config.listen), io.stdout, io.stderr);
  }
  if (command.name === 'doctor') {
    const { doctorCommand } = await import('./doctor.js');
    return doctorCommand(loaded.config, io.stdout);
  }
  if (command.name === 'status') {
    const { statusCommand } = await import('./status-command.js');
    return statusCommand(loaded.config.listen, values.json === true, io.stdout, io.stderr);
  }
  return serve(loaded.config, loaded.files, () => loadConfig(sources), io.stderr);
}

/** The files and flags the configuration is read from, again on every SIGHUP. */
function configSources(values: FlagValues): Parameters<typeof loadConfig>[0] {
  const text = (v: FlagValues[string] | undefined) => (typeof v === 'string' ? v : undefined);
  const flags: Record<string, string | string[] | undefined> = {};
  for (const k of KEYS) {
    const value = k.flag ? values[k.flag] : undefined;
    if (k.flag) flags[k.flag] = value === true ? undefined : value;
  }
  return { configFile: text(values.config), configDir: text(values['config-dir']), flags };
}

async function serve(
  config: Parameters<typeof startDaemon>[0],
  files: string[],
  reloadConfig: () => ReturnType<typeof loadConfig>,
  stderr: NodeJS.WritableStream,
): Promise<number> {
  if (process.getuid?.() !== 0) {
    // Namespaces, mounts, cgroups and runc all need root: say so in one line.
    stderr.write('berth: the daemon must run as root (it creates namespaces, mounts and cgroups); try sudo\n');
    return 1;
  }
  const traits = stderrTraits();
  const log = await createLogger(config.log_level, config.log_format, traits);
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
    reportStartFailure(err, log, stderr, traits.isTTY);
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
