import { status } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/schema.js';
import { RuntimeError } from '../src/errors.js';
import type { ImageService } from '../src/image/image-service.js';
import { silentLogger } from '../src/log.js';
import { unary } from '../src/server/adapter.js';
import type { CallContext, Deps } from '../src/server/deps.js';

function deps(ready: boolean): Deps {
  return { config: defaultConfig(), log: silentLogger(), images: {} as ImageService, lifecycle: { ready } } as unknown as Deps;
}

/** Drives a wrapped handler the way grpc-js would. */
function invoke<Res>(d: Deps, handler: (ctx: CallContext, req: object) => Promise<Res>, cancelAfterMs?: number) {
  const call = Object.assign(new EventEmitter(), { request: {} });
  const wrapped = unary(d, 'Test', handler);
  return new Promise<{ err: { code: number; details: string } | null; res?: Res }>((resolve) => {
    wrapped(call as never, ((err: { code: number; details: string } | null, res?: Res) => resolve({ err, res })) as never);
    if (cancelAfterMs !== undefined) setTimeout(() => call.emit('cancelled'), cancelAfterMs);
  });
}

describe('the gRPC adapter', () => {
  it('answers UNAVAILABLE until restore has finished', async () => {
    const { err } = await invoke(deps(false), async () => 'never');
    expect(err?.code).toBe(status.UNAVAILABLE);
  });

  it('passes results through once ready', async () => {
    expect(await invoke(deps(true), async () => ({ ok: true }))).toEqual({ err: null, res: { ok: true } });
  });

  it('maps thrown kinds, and plain errors to UNKNOWN, without rejecting', async () => {
    expect(
      (
        await invoke(deps(true), async () => {
          throw new RuntimeError('not-found', 'no such thing');
        })
      ).err,
    ).toEqual({ code: status.NOT_FOUND, details: 'no such thing' });
    expect(
      (
        await invoke(deps(true), async () => {
          throw new TypeError('bug');
        })
      ).err?.code,
    ).toBe(status.UNKNOWN);
  });

  it('gives a handler that looks at its signal only after a cancellation an aborted one', async () => {
    const { err } = await invoke(
      deps(true),
      async (ctx) => {
        await new Promise((r) => setTimeout(r, 30));
        if (ctx.signal.aborted) throw ctx.signal.reason;
        return {};
      },
      5,
    );
    expect(err?.code).toBe(status.CANCELLED);
  });

  it('aborts the handler signal when the client cancels', async () => {
    const { err } = await invoke(
      deps(true),
      (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
      10,
    );
    expect(err?.code).toBe(status.CANCELLED);
  });
});

describe('log lines of a call', () => {
  it('carry the RPC name and a request number of their own, down into the services', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const d = { ...deps(true), log } as Deps;
    // A handler that hands its logger to a service, which logs with a child of it.
    const service = (callLog: CallContext['log']) => callLog.child({ containerId: 'c1' }).info('container created');
    await invoke(d, async (ctx) => service(ctx.log));
    await invoke(d, async (ctx) => service(ctx.log));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ rpc: 'Test', containerId: 'c1', msg: 'container created' });
    expect(typeof lines[0]!.req).toBe('number');
    expect(lines[1]!.req).toBe((lines[0]!.req as number) + 1);
  });
});
