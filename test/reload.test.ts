import { describe, expect, it } from 'vitest';
import { applyReload, reloadedRuntimes } from '../src/config/reload.js';
import { defaultConfig } from '../src/config/schema.js';
import { createLogger } from '../src/log.js';

describe('reloading the configuration', () => {
  it('applies what can change at run time, in place, and names what needs a restart', async () => {
    const log = await createLogger('info', 'json');
    const component = log.child({ component: 'containers' });
    const running = defaultConfig();
    const runtimeSection = running.runtime; // services hold this very object
    const next = defaultConfig();
    next.log_level = 'debug';
    next.runtime.default_capabilities = ['CHOWN'];
    next.runtime.pids_limit = 512;
    next.image.pause_image = 'registry.example/pause:9';
    next.listen = '/run/other.sock';
    next.runtimes.crun = { runtime_path: '/usr/bin/crun', runtime_root: '', runtime_type: 'oci' };
    const outcome = applyReload(running, next, log);
    expect(outcome).toEqual({
      applied: ['log_level', 'image.pause_image', 'runtime.pids_limit', 'runtime.default_capabilities', 'runtimes.crun'],
      needRestart: ['listen'],
    });
    expect(running.runtimes.crun).toEqual(next.runtimes.crun);
    expect(runtimeSection).toMatchObject({ default_capabilities: ['CHOWN'], pids_limit: 512 });
    expect(running.listen).toBe('/run/berth/berth.sock');
    expect(component.level).toBe('debug'); // made before the reload, still follows it
    expect(applyReload(running, running, log)).toEqual({ applied: [], needRestart: [] });
  });

  it("takes a new runtime binary and CNI settings, but not a handler's new root, type or removal", async () => {
    const log = await createLogger('info', 'json');
    const running = defaultConfig();
    running.runtimes.crun = { runtime_path: '/usr/bin/crun', runtime_root: '', runtime_type: 'oci' };
    const next = defaultConfig();
    next.runtimes.runc = { ...next.runtimes.runc!, runtime_path: '/opt/runc/runc' };
    next.runtimes.kata = { runtime_path: '/usr/bin/kata', runtime_root: '/run/kata', runtime_type: 'oci' };
    next.network.cni_config_dir = '/etc/other/net.d';
    next.network.plugin_timeout = 5000;
    const outcome = applyReload(running, next, log);
    expect(outcome.applied).toEqual(['network.cni_config_dir', 'network.plugin_timeout', 'runtimes.runc', 'runtimes.kata']);
    expect(outcome.needRestart).toEqual(['runtimes.crun']); // removed: its containers still need it
    expect(reloadedRuntimes(outcome)).toEqual(['runc', 'kata']);
    expect(running.runtimes.runc!.runtime_path).toBe('/opt/runc/runc');
    expect(running.runtimes.crun).toBeDefined();
    expect(running.network.cni_config_dir).toBe('/etc/other/net.d');

    const moved = structuredClone(running);
    moved.runtimes.runc = { ...moved.runtimes.runc!, runtime_root: '/run/elsewhere' };
    expect(applyReload(running, moved, log)).toEqual({ applied: [], needRestart: ['runtimes.runc'] });
    expect(running.runtimes.runc!.runtime_root).toBe('');
  });
});
