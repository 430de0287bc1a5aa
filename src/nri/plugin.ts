/**
 * One NRI plugin's connection, the runtime's side: the plugin registers
 * through the runtime service (mux stream 2), then berth configures it and
 * hands it every pod and container there is through the plugin service
 * (stream 1), and from then on sends the events it subscribed to. Every
 * call has the request timeout; a plugin that misses it, breaks the
 * protocol or goes away is closed, and costs a caller nothing more.
 */

import type { Duplex } from 'node:stream';
import type { Container } from '../generated/nri/nri/pkg/api/v1alpha1/Container.js';
import type { ConfigureResponse__Output } from '../generated/nri/nri/pkg/api/v1alpha1/ConfigureResponse.js';
import type { CreateContainerResponse__Output } from '../generated/nri/nri/pkg/api/v1alpha1/CreateContainerResponse.js';
import type { Event } from '../generated/nri/nri/pkg/api/v1alpha1/Event.js';
import type { PodSandbox } from '../generated/nri/nri/pkg/api/v1alpha1/PodSandbox.js';
import type { RegisterPluginRequest__Output } from '../generated/nri/nri/pkg/api/v1alpha1/RegisterPluginRequest.js';
import type { SynchronizeResponse__Output } from '../generated/nri/nri/pkg/api/v1alpha1/SynchronizeResponse.js';
import { PLUGIN_SERVICE, RUNTIME_SERVICE, decode, encode } from './messages.js';
import { Mux, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN } from './mux.js';
import { Code, TtrpcError } from './ttrpc-wire.js';
import { TtrpcClient, TtrpcServer } from './ttrpc.js';

/** Events by number, as the subscription mask counts them (bit e-1 for event e). */
export const EVENTS = [
  'UNKNOWN',
  'RUN_POD_SANDBOX',
  'STOP_POD_SANDBOX',
  'REMOVE_POD_SANDBOX',
  'CREATE_CONTAINER',
  'POST_CREATE_CONTAINER',
  'START_CONTAINER',
  'POST_START_CONTAINER',
  'UPDATE_CONTAINER',
  'POST_UPDATE_CONTAINER',
  'STOP_CONTAINER',
  'REMOVE_CONTAINER',
] as const;
export type NriEvent = Exclude<(typeof EVENTS)[number], 'UNKNOWN'>;
/** Every event v0.8.0 defines. */
export const VALID_EVENTS = (1 << (EVENTS.length - 1)) - 1;

export interface PluginOptions {
  /** Set for a plugin berth launched: its file name names it, whatever it registers as. */
  name?: string;
  index?: string;
  config: string;
  runtimeName: string;
  runtimeVersion: string;
  registrationTimeoutMs: number;
  requestTimeoutMs: number;
}

export class NriPlugin {
  name = '';
  index = '';
  /** The events subscribed to, as a mask. */
  events = 0;
  private readonly mux: Mux;
  private readonly client: TtrpcClient;
  private readonly registration: Promise<void>;
  private registered: (() => void) | undefined;
  private closeReason: string | undefined;

  constructor(
    socket: Duplex,
    private readonly opts: PluginOptions,
  ) {
    this.mux = new Mux(socket);
    this.client = new TtrpcClient(this.mux.open(PLUGIN_SERVICE_CONN));
    new TtrpcServer(this.mux.open(RUNTIME_SERVICE_CONN), {
      [RUNTIME_SERVICE]: {
        RegisterPlugin: async (payload) => {
          this.register(decode<RegisterPluginRequest__Output>('RegisterPluginRequest', payload));
          return encode('Empty', {});
        },
        UpdateContainers: async () => {
          // Unsolicited updates come in a later step: answered, nothing applied, nothing failed.
          return encode('UpdateContainersResponse', { failed: [] });
        },
      },
    });
    this.registration = new Promise<void>((resolve, reject) => {
      this.registered = resolve;
      this.mux.once('close', (err) => reject(new TtrpcError(Code.Unavailable, `the plugin went away before registering${err ? `: ${err.message}` : ''}`)));
    });
    this.registration.catch(() => undefined);
    this.mux.once('close', (err) => {
      this.closeReason ??= err?.message ?? 'the plugin closed its connection';
    });
  }

  get closed(): string | undefined {
    return this.closeReason;
  }

  onClose(listener: () => void): void {
    if (this.closeReason) listener();
    else this.mux.once('close', () => listener());
  }

  close(reason: string): void {
    this.closeReason ??= reason;
    this.mux.close(undefined);
  }

  /** Registration, Configure, then Synchronize with what exists: the plugin is then ready for events. */
  async start(pods: PodSandbox[], containers: Container[]): Promise<void> {
    try {
      await withTimeout(this.registration, this.opts.registrationTimeoutMs, 'register');
      const configured = decode<ConfigureResponse__Output>(
        'ConfigureResponse',
        await this.client.call(
          PLUGIN_SERVICE,
          'Configure',
          encode('ConfigureRequest', {
            config: this.opts.config,
            runtimeName: this.opts.runtimeName,
            runtimeVersion: this.opts.runtimeVersion,
            registrationTimeout: String(this.opts.registrationTimeoutMs),
            requestTimeout: String(this.opts.requestTimeoutMs),
          }),
          this.opts.requestTimeoutMs,
        ),
      );
      const mask = configured.events === 0 ? VALID_EVENTS : configured.events;
      if ((mask & ~VALID_EVENTS) !== 0) throw new TtrpcError(Code.InvalidArgument, `subscribes to unknown events (mask 0x${mask.toString(16)})`);
      this.events = mask;
      decode<SynchronizeResponse__Output>(
        'SynchronizeResponse',
        await this.client.call(PLUGIN_SERVICE, 'Synchronize', encode('SynchronizeRequest', { pods, containers, more: false }), this.opts.requestTimeoutMs),
      );
    } catch (err) {
      this.close(`starting failed: ${(err as Error).message}`);
      throw err;
    }
  }

  subscribed(event: NriEvent): boolean {
    return (this.events & (1 << (EVENTS.indexOf(event) - 1))) !== 0;
  }

  /** A pod or container event that carries no adjustment; a plugin that fails it is closed. */
  async stateChange(event: NriEvent, pod: PodSandbox, container?: Container): Promise<void> {
    if (this.closeReason || !this.subscribed(event)) return;
    try {
      await this.client.call(
        PLUGIN_SERVICE,
        'StateChange',
        encode('StateChangeEvent', { event: event satisfies Event, pod, ...(container ? { container } : {}) }),
        this.opts.requestTimeoutMs,
      );
    } catch (err) {
      this.close(`${event} failed: ${(err as Error).message}`);
    }
  }

  /**
   * A container about to be created: the plugin's adjustments, or
   * undefined where it did not subscribe or failed (then it is closed, and
   * the creation goes on without it).
   */
  async createContainer(pod: PodSandbox, container: Container): Promise<CreateContainerResponse__Output | undefined> {
    if (this.closeReason || !this.subscribed('CREATE_CONTAINER')) return undefined;
    try {
      const reply = await this.client.call(PLUGIN_SERVICE, 'CreateContainer', encode('CreateContainerRequest', { pod, container }), this.opts.requestTimeoutMs);
      return decode<CreateContainerResponse__Output>('CreateContainerResponse', reply);
    } catch (err) {
      this.close(`CREATE_CONTAINER failed: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** A container that stopped; the updates a plugin may answer with come in a later step. */
  async stopContainer(pod: PodSandbox, container: Container): Promise<void> {
    if (this.closeReason || !this.subscribed('STOP_CONTAINER')) return;
    try {
      await this.client.call(PLUGIN_SERVICE, 'StopContainer', encode('StopContainerRequest', { pod, container }), this.opts.requestTimeoutMs);
    } catch (err) {
      this.close(`STOP_CONTAINER failed: ${(err as Error).message}`);
    }
  }

  private register(req: RegisterPluginRequest__Output): void {
    if (this.name) throw new TtrpcError(Code.FailedPrecondition, 'already registered');
    const name = this.opts.name ?? req.pluginName;
    const index = this.opts.index ?? req.pluginIdx;
    if (name === '' || name.length > 64 || /[^A-Za-z0-9._-]/.test(name))
      throw new TtrpcError(Code.InvalidArgument, `invalid plugin name ${JSON.stringify(name.slice(0, 64))}`);
    if (!/^[0-9]{2}$/.test(index)) throw new TtrpcError(Code.InvalidArgument, `invalid plugin index ${JSON.stringify(index.slice(0, 8))} (two digits)`);
    this.name = name;
    this.index = index;
    this.registered?.();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TtrpcError(Code.DeadlineExceeded, `did not ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
