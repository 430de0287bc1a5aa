import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PLUGIN_SERVICE, RUNTIME_SERVICE, encode } from '../src/nri/messages.js';
import { Mux, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN } from '../src/nri/mux.js';
import { NriPlugin } from '../src/nri/plugin.js';
import { Code } from '../src/nri/ttrpc-wire.js';
import { type TtrpcHandler, TtrpcClient, TtrpcServer } from '../src/nri/ttrpc.js';
import { socketPairsPerTest } from './support/socket-pair.js';

/** A plugin written for the test: registers as told, answers with the given handlers. */
function fakePlugin(socket: Socket, handlers: Record<string, TtrpcHandler>) {
  const mux = new Mux(socket);
  new TtrpcServer(mux.open(PLUGIN_SERVICE_CONN), { [PLUGIN_SERVICE]: handlers });
  const runtime = new TtrpcClient(mux.open(RUNTIME_SERVICE_CONN));
  return {
    mux,
    register: (name: string, idx: string) =>
      runtime.call(RUNTIME_SERVICE, 'RegisterPlugin', encode('RegisterPluginRequest', { pluginName: name, pluginIdx: idx }), 1000),
  };
}

const options = { config: '', runtimeName: 'berth', runtimeVersion: 'test', registrationTimeoutMs: 300, requestTimeoutMs: 200 };
const willing: Record<string, TtrpcHandler> = {
  Configure: async () => encode('ConfigureResponse', { events: 1 }),
  Synchronize: async () => encode('SynchronizeResponse', {}),
};

describe('an NRI plugin that misbehaves', () => {
  const pair = socketPairsPerTest(afterEach);

  it('is started when it registers and answers, subscribed to what it asked for', async () => {
    const [a, b] = await pair();
    const plugin = new NriPlugin(a, options);
    const fake = fakePlugin(b, willing);
    await fake.register('good', '05');
    await plugin.start([], []);
    expect([plugin.name, plugin.index, plugin.subscribed('RUN_POD_SANDBOX'), plugin.subscribed('STOP_POD_SANDBOX')]).toEqual(['good', '05', true, false]);
  });

  it('is refused a registration with a bad name or index, and dropped when it never registers', async () => {
    const [a, b] = await pair();
    const plugin = new NriPlugin(a, options);
    const fake = fakePlugin(b, willing);
    await expect(fake.register('bad', '5')).rejects.toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining('two digits') });
    await expect(fake.register('../evil', '10')).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(plugin.start([], [])).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(plugin.closed).toMatch(/did not register within 300 ms/);
  });

  it('costs at most the request timeout when it never answers Configure', async () => {
    const [a, b] = await pair();
    const plugin = new NriPlugin(a, options);
    const fake = fakePlugin(b, { ...willing, Configure: () => new Promise(() => undefined) });
    await fake.register('hangs', '10');
    const started = Date.now();
    await expect(plugin.start([], [])).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(plugin.closed).toBeDefined();
  });

  it('is closed when it subscribes to events that do not exist', async () => {
    const [a, b] = await pair();
    const plugin = new NriPlugin(a, options);
    const fake = fakePlugin(b, { ...willing, Configure: async () => encode('ConfigureResponse', { events: 1 << 20 }) });
    await fake.register('greedy', '10');
    await expect(plugin.start([], [])).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it('is closed when an event fails, and the caller goes on', async () => {
    const [a, b] = await pair();
    const plugin = new NriPlugin(a, options);
    const fake = fakePlugin(b, {
      ...willing,
      StateChange: async () => {
        throw new Error('plugin bug');
      },
    });
    await fake.register('buggy', '10');
    await plugin.start([], []);
    await plugin.stateChange('RUN_POD_SANDBOX', { id: 'p' });
    expect(plugin.closed).toMatch(/RUN_POD_SANDBOX failed: plugin bug/);
  });
});

describe('NRI when berth stops while a plugin is starting', () => {
  const pair = socketPairsPerTest(afterEach);

  it('keeps no plugin whose start finished after the stop', async () => {
    const { NriAdaptation } = await import('../src/nri/adaptation.js');
    const { silentLogger } = await import('../src/log.js');
    const nri = new NriAdaptation({
      socketPath: '/nonexistent/never-listened.sock',
      runtimeName: 'berth',
      runtimeVersion: 'test',
      registrationTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      snapshot: () => ({ pods: [], containers: [] }),
      log: silentLogger(),
    });
    const [a, b] = await pair();
    const connecting = nri.connect(a, {});
    const fake = fakePlugin(b, willing);
    await nri.stop();
    await fake.register('late', '10');
    expect(await connecting).toBeUndefined();
    expect(nri.list()).toEqual([]);
    // ...and closes it, so the plugin sees its connection end.
    await new Promise<void>((resolve) => {
      fake.mux.once('close', () => resolve());
    });
  });
});
