import { adler32 } from './support/adler32.js';
import { socketPair } from './support/socket-pair.js';
import { describe, expect, it } from 'vitest';
import { parseResizes, statusPayload } from '../src/streaming/channels.js';
import { SpdyConnection, type SpdyStream } from '../src/streaming/spdy/connection.js';
import { SPDY3_DICTIONARY } from '../src/streaming/spdy/dictionary.js';
import { FrameType, controlFrame, dataFrame, decodeHeaderBlock, encodeHeaderBlock, readFrames, u32 } from '../src/streaming/spdy/frames.js';
import { MAX_TOKENS, MAX_TOKENS_PER_TARGET, TOKEN_TTL_MS, TokenStore } from '../src/streaming/tokens.js';
import { deflateSync } from 'node:zlib';
import { MAX_STREAMS } from '../src/streaming/spdy/connection.js';

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
    const streams: SpdyStream[] = [];
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

  /** A server connection, the raw client socket, and whether the server saw a stream. */
  async function rawPeer() {
    const [a, b] = await socketPair();
    const server = new SpdyConnection(b, 'server');
    const streams: SpdyStream[] = [];
    server.on('stream', (s) => streams.push(s));
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    a.on('data', () => undefined);
    a.on('error', () => undefined);
    return { a, streams, closed };
  }

  const synStream = (id: number, block: Buffer) => controlFrame(FrameType.SYN_STREAM, 0, Buffer.concat([u32(id, 0), Buffer.from([0, 0]), block]));

  it('closes a connection whose header block inflates past the limit, without inflating it all', async () => {
    const { a, streams, closed } = await rawPeer();
    // 256 MiB of header value that deflates to about 256 KiB on the wire: send it in control frames of 60 KiB.
    const value = Buffer.alloc(32 << 20, 0x61);
    const bomb = deflateSync(Buffer.concat([u32(1), u32(1), Buffer.from('x'), u32(value.length), value]), { dictionary: SPDY3_DICTIONARY });
    const before = process.memoryUsage().arrayBuffers;
    a.write(synStream(1, bomb.subarray(0, 60 << 10)));
    await closed;
    expect(streams).toEqual([]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
  });

  it('refuses control frames over the size limit before buffering them', async () => {
    const { a, streams, closed } = await rawPeer();
    const head = Buffer.alloc(8);
    head.writeUInt16BE(0x8003, 0);
    head.writeUInt16BE(FrameType.SYN_STREAM, 2);
    head.writeUInt32BE(0xffffff, 4);
    a.write(head);
    await closed;
    expect(streams).toEqual([]);
  });

  it('refuses streams past the per-connection limit', async () => {
    const [a, b] = await socketPair();
    const client = new SpdyConnection(a, 'client');
    const server = new SpdyConnection(b, 'server');
    let accepted = 0;
    server.on('stream', () => accepted++);
    const resets: number[] = [];
    for (let i = 0; i < MAX_STREAMS; i++) await client.openStream({ streamtype: 'data' });
    const raw = new Promise<void>((resolve) =>
      a.on('data', (d: Buffer) => {
        const { frames } = readFrames(d);
        for (const f of frames) if (f.kind === 'control' && f.type === FrameType.RST_STREAM) resets.push(f.payload.readUInt32BE(4));
        if (resets.length > 0) resolve();
      }),
    );
    void client.openStream({ streamtype: 'data' });
    await raw;
    expect(accepted).toBe(MAX_STREAMS);
    expect(resets).toEqual([3]); // REFUSED_STREAM
    client.close();
  });
});

describe('streaming helpers', () => {
  it('writes the v4 status the kubelet decodes, and plain text before v4', () => {
    expect(JSON.parse(statusPayload('v4.channel.k8s.io', { kind: 'exit', code: 3 })!.toString())).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
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
    expect(sizes).toEqual([
      { width: 80, height: 24 },
      { width: 120, height: 40 },
    ]);
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
    for (let i = 0; i < MAX_TOKENS; i++) store.put({ kind: 'portforward', podSandboxId: `p${i % 50}`, ports: [] });
    expect(() => store.put({ kind: 'portforward', podSandboxId: 'q', ports: [] })).toThrow(expect.objectContaining({ kind: 'resource-exhausted' }));
  });

  it('keeps one container from taking every token', () => {
    const store = new TokenStore();
    for (let i = 0; i < MAX_TOKENS_PER_TARGET; i++) store.put({ kind: 'attach', containerId: 'busy', tty: false, stdin: false, stdout: true, stderr: false });
    expect(() => store.put({ kind: 'exec', containerId: 'busy', cmd: ['x'], tty: false, stdin: false, stdout: true, stderr: false })).toThrow(
      expect.objectContaining({ kind: 'resource-exhausted', message: expect.stringContaining('container busy') }),
    );
    expect(store.put({ kind: 'exec', containerId: 'quiet', cmd: ['x'], tty: false, stdin: false, stdout: true, stderr: false })).toBeTruthy();
  });
});
