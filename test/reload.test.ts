import { describe, expect, it } from 'vitest';
import { applyReload } from '../src/config/reload.js';
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
    expect(outcome).toEqual({ applied: ['log_level', 'image.pause_image', 'runtime.pids_limit', 'runtime.default_capabilities'], needRestart: ['listen', 'runtimes'] });
    expect(runtimeSection).toMatchObject({ default_capabilities: ['CHOWN'], pids_limit: 512 });
    expect(running.listen).toBe('/run/berth/berth.sock');
    expect(component.level).toBe('debug'); // made before the reload, still follows it
    expect(applyReload(running, running, log)).toEqual({ applied: [], needRestart: [] });
  });
});
