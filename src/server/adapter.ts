import type * as grpc from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { type RuntimeError, canceled, errorKind, messageOf, unimplemented as unimplementedError, unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallContext, Deps } from './deps.js';
import { toGrpcStatus } from './grpc-status.js';
import { type Attributes, callSpan, tracingEnabled } from '../tracing/tracing.js';
import { explainSpaceFailure } from '../util/space-errors.js';

export type UnaryHandler<Req, Res> = (ctx: CallContext, request: Req) => Promise<Res>;
export type StreamHandler<Req, Res> = (ctx: CallContext, request: Req, send: (message: Res) => Promise<void>) => Promise<void>;

/** Numbers calls, so that every log line a call causes can be told apart from a concurrent one's. */
let lastRequest = 0;

/** The ids worth binding to a call's log lines, when the request has them. */
function logBindings(rpc: string, req: number, request: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = { rpc, req };
  const r = request as { podSandboxId?: unknown; containerId?: unknown } | null;
  if (typeof r?.podSandboxId === 'string' && r.podSandboxId) out.podSandboxId = r.podSandboxId;
  if (typeof r?.containerId === 'string' && r.containerId) out.containerId = r.containerId;
  return out;
}

/**
 * The context of one call. Its logger and its abort signal are made on
 * first use: most calls (the kubelet's polling above all) need neither,
 * and making them for every call was a large share of a call's cost.
 */
class Call implements CallContext {
  private logger: Logger | undefined;
  private controller: AbortController | undefined;
  private cancelled = false;
  /** Set once the answer is sent: grpc-js reports the stream's close as a cancellation too. */
  done = false;
  /** The call's number in this daemon's life (`req` on its log lines). */
  readonly req = ++lastRequest;

  constructor(
    readonly deps: Deps,
    readonly rpc: string,
    private readonly request: unknown,
  ) {}

  get log(): Logger {
    this.logger ??= this.deps.log.child(logBindings(this.rpc, this.req, this.request));
    return this.logger;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.cancelled) this.controller.abort(this.reason());
    }
    return this.controller.signal;
  }

  cancel(): void {
    if (this.done || this.cancelled) return;
    this.cancelled = true;
    this.controller?.abort(this.reason());
  }

  private reason(): RuntimeError {
    return canceled(`${this.rpc}: call cancelled by the client`);
  }
}

const IMAGE_RPCS = new Set(['ListImages', 'StreamImages', 'ImageStatus', 'PullImage', 'RemoveImage', 'ImageFsInfo']);

/** A CRI call as a span: the gRPC method, the ids it concerns, in the trace the client's metadata continues. */
function traced<T>(rpc: string, call: { metadata: grpc.Metadata }, request: unknown, fn: () => Promise<T>): Promise<T> {
  // Off (the default), nothing is built: the kubelet's polling pays one check.
  if (!tracingEnabled()) return fn();
  const service = IMAGE_RPCS.has(rpc) ? 'runtime.v1.ImageService' : 'runtime.v1.RuntimeService';
  const attributes: Attributes = { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': rpc };
  const r = request as { podSandboxId?: unknown; containerId?: unknown; image?: { image?: unknown } } | null;
  if (typeof r?.podSandboxId === 'string' && r.podSandboxId) attributes['k8s.pod.sandbox.id'] = r.podSandboxId;
  if (typeof r?.containerId === 'string' && r.containerId) attributes['k8s.container.id'] = r.containerId;
  if (typeof r?.image?.image === 'string' && r.image.image) attributes['container.image.name'] = r.image.image;
  const carrier = () => {
    const out: Record<string, string> = {};
    for (const key of ['traceparent', 'tracestate']) {
      const value = call.metadata.get(key)[0];
      if (typeof value === 'string') out[key] = value;
    }
    return out;
  };
  return callSpan(`${service}/${rpc}`, attributes, carrier, fn);
}

function begin(deps: Deps, rpc: string, call: { on(event: 'cancelled', listener: () => void): unknown }, request: unknown) {
  const ctx = new Call(deps, rpc, request);
  call.on('cancelled', () => ctx.cancel());
  return { ctx, start: performance.now() };
}

function checkReady(deps: Deps): void {
  if (!deps.lifecycle.ready) throw unavailable('berth is starting: restoring state, try again shortly');
}

function logOutcome(ctx: CallContext, start: number, err?: unknown): void {
  const durationMs = Math.round((performance.now() - start) * 1000) / 1000;
  ctx.deps.metrics?.observeCall(ctx.rpc, err === undefined ? 'OK' : grpcStatusName(toGrpcStatus(err).code), durationMs / 1000);
  if (err === undefined) {
    if (ctx.deps.log.isLevelEnabled('debug')) ctx.log.debug({ durationMs }, 'call done');
    return;
  }
  const kind = errorKind(err);
  const level = kind === 'unknown' || kind === 'internal' ? 'error' : kind === 'runtime-failed' ? 'warn' : 'info';
  ctx.log[level]({ durationMs, kind, err: kind === 'unknown' ? err : undefined }, `call failed: ${messageOf(err)}`);
}

/**
 * Wraps an async handler as a grpc-js unary handler. Every error, thrown or
 * rejected, becomes a gRPC status through toGrpcStatus; nothing escapes as
 * an unhandled rejection.
 */
export function unary<Req, Res>(deps: Deps, rpc: string, handler: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const { ctx, start } = begin(deps, rpc, call, call.request);
    const run = () =>
      traced(rpc, call, call.request, async () => {
        checkReady(deps);
        return handler(ctx, call.request);
      }).catch(async (err: unknown) => {
        throw await explainSpaceFailure(err);
      });
    run().then(
      (response) => {
        ctx.done = true;
        logOutcome(ctx, start);
        callback(null, response);
      },
      (err: unknown) => {
        ctx.done = true;
        logOutcome(ctx, start, err);
        callback(toGrpcStatus(err));
      },
    );
  };
}

/** Wraps an async handler that sends a stream of messages, honouring back-pressure. */
export function serverStream<Req, Res>(deps: Deps, rpc: string, handler: StreamHandler<Req, Res>): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const { ctx, start } = begin(deps, rpc, call, call.request);
    const send = (message: Res) =>
      new Promise<void>((resolve, reject) => {
        if (ctx.signal.aborted) {
          reject(ctx.signal.reason);
          return;
        }
        if (call.write(message)) resolve();
        else {
          const onDrain = () => {
            ctx.signal.removeEventListener('abort', onAbort);
            resolve();
          };
          const onAbort = () => {
            call.off('drain', onDrain);
            reject(ctx.signal.reason);
          };
          call.once('drain', onDrain);
          ctx.signal.addEventListener('abort', onAbort, { once: true });
        }
      });
    const run = () =>
      traced(rpc, call, call.request, async () => {
        checkReady(deps);
        await handler(ctx, call.request, send);
      }).catch(async (err: unknown) => {
        throw await explainSpaceFailure(err);
      });
    run().then(
      () => {
        ctx.done = true;
        logOutcome(ctx, start);
        call.end();
      },
      (err: unknown) => {
        ctx.done = true;
        logOutcome(ctx, start, err);
        // grpc-js sends a status for an 'error' event (destroy would end
        // the stream without one, and the client would wait for its deadline).
        if (!ctx.signal.aborted) call.emit('error', Object.assign(new Error(messageOf(err)), toGrpcStatus(err)));
      },
    );
  };
}

/** The handler of an RPC that a later version of berth implements. */
export function unimplemented(rpc: string): UnaryHandler<unknown, never> {
  return async () => {
    throw unimplementedError(`${rpc} is not implemented by this version of berth`);
  };
}

function grpcStatusName(code: number): string {
  return grpcStatus[code] ?? String(code);
}
