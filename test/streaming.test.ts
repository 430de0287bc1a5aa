import { createServer, connect, type Socket } from 'node:net';
import { adler32 } from './support/adler32.js';
import { describe, expect, it } from 'vitest';
import { parseResizes, statusPayload } from '../src/streaming/channels.js';
import { SpdyConnection, type SpdyStream } from '../src/streaming/spdy/connection.js';
import { SPDY3_DICTIONARY } from '../src/streaming/spdy/dictionary.js';
import { FrameType, controlFrame, dataFrame, decodeHeaderBlock, encodeHeaderBlock, readFrames, u32 } from '../src/streaming/spdy/frames.js';
import { MAX_TOKENS, TOKEN_TTL_MS, TokenStore } from '../src/streaming/tokens.js';

/** Two connected sockets on loopback. */
async function socketPair(): Promise<[Socket, Socket]> {
  return new Promise((resolve) => {
    const srv = createServer((server) => {
      srv.close();
      resolve([client, server]);
    });
    let client: Socket;
    srv.listen(0, '127.0.0.1', () => {
      client = connect((srv.address() as { port: number }).port, '127.0.0.1');
    });
  });
}

describe('SPDY/3.1 frames', () => {
  it('uses the SPDY/3 dictionary', () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    expect(adler32(SPDY3_DICTIONARY)).toBe(0xe3c6a7c2);
  });

  it('round-trips header blocks and splits frames at their boundaries', () => {
    const block = encodeHeaderBlock({ streamType: 'stdout', port: '80' });
    expect(decodeHeaderBlock(block)).toEqual({ streamtype: 'stdout', port: '80' });
    const bytes = Buffer.concat([controlFrame(FrameType.PING, 0, u32(7)), dataFrame(3, 1, Buffer.from('hi'))]);
    const { frames, rest } = readFrames(Buffer.concat([bytes, bytes.subarray(0, 5)]));
    expect(frames).toEqual([
      { kind: 'control', type: FrameType.PING, flags: 0, payload: u32(7) },
      { kind: 'data', streamId: 3, flags: 1, payload: Buffer.from('hi') },
    ]);
    expect(rest.length).toBe(5);
    expect(() => readFrames(Buffer.from([0x80, 0x02, 0, 1, 0, 0, 0, 0]))).toThrow(/version 2/);
  });

  it('carries compressed headers and data both ways, answers pings and half-closes', async () => {
    const [a, b] = await socketPair();
    const client = new SpdyConnection(a, 'client');
    const server = new SpdyConnection(b, 'server');
    const accepted: SpdyStream[] = [];
    server.on('stream', (s) => {
      accepted.push(s);
      s.on('data', (d: Buffer) => s.write(Buffer.from(d.toString().toUpperCase())));
      s.on('end', () => s.end());
    });
    const streams = [];
    for (const type of ['error', 'stdin', 'stdout']) streams.push(await client.openStream({ streamtype: type }));
    expect(accepted.map((s) => s.headers.streamtype)).toEqual(['error', 'stdin', 'stdout']);
    expect(streams.map((s) => s.id)).toEqual([1, 3, 5]);
    const echoed = new Promise<string>((resolve) => {
      let text = '';
      streams[1]!.on('data', (d: Buffer) => (text += d.toString()));
      streams[1]!.on('end', () => resolve(text));
    });
    streams[1]!.end('shout');
    expect(await echoed).toBe('SHOUT');
    client.close();
  });
});

describe('streaming helpers', () => {
  it('writes the v4 status the kubelet decodes, and plain text before v4', () => {
    expect(JSON.parse(statusPayload('v4.channel.k8s.io', { kind: 'exit', code: 3 })!.toString())).toEqual({
      metadata: {}, status: 'Failure', message: 'command terminated with non-zero exit code: exit status 3',
      reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    expect(statusPayload('v5.channel.k8s.io', { kind: 'success' })!.toString()).toBe('{"metadata":{},"status":"Success"}');
    expect(statusPayload('channel.k8s.io', { kind: 'success' })).toBeUndefined();
    expect(statusPayload('v3.channel.k8s.io', { kind: 'error', message: 'boom' })!.toString()).toBe('boom');
  });

  it('parses resize messages split anywhere', () => {
    const sizes: unknown[] = [];
    const feed = parseResizes((s) => sizes.push(s));
    feed(Buffer.from('{"Width":80,"Hei'));
    feed(Buffer.from('ght":24}\n{"Width":120,"Height":40}\n'));
    expect(sizes).toEqual([{ width: 80, height: 24 }, { width: 120, height: 40 }]);
  });

  it('hands out single-use tokens that expire', () => {
    let now = 1000;
    const store = new TokenStore(() => now);
    const t = store.put({ kind: 'portforward', podSandboxId: 'p', ports: [80] });
    expect(store.take(t)).toMatchObject({ kind: 'portforward' });
    expect(store.take(t)).toBeUndefined();
    const old = store.put({ kind: 'portforward', podSandboxId: 'p', ports: [] });
    now += TOKEN_TTL_MS + 1;
    expect(store.take(old)).toBeUndefined();
    for (let i = 0; i < MAX_TOKENS; i++) store.put({ kind: 'portforward', podSandboxId: 'p', ports: [] });
    expect(() => store.put({ kind: 'portforward', podSandboxId: 'p', ports: [] })).toThrow(expect.objectContaining({ kind: 'resource-exhausted' }));
  });
});
