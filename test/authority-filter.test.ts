import http2 from 'node:http2';
import { createServer, connect, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorityFilter, FilteredConnection } from '../src/server/h2/authority-filter.js';
import { HpackDecoder, encodeLiterals, huffmanDecode } from '../src/server/h2/hpack.js';

/**
 * The authority filter between a real HTTP/2 client (Node's, whose HPACK
 * encoder uses Huffman strings and the dynamic table, as grpc-go's does)
 * and Node's HTTP/2 server, which refuses a `/` in `:authority`.
 */
describe('the authority filter', () => {
  let dir: string | undefined;
  const servers: (Server | http2.Http2Server)[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) s.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function serve(filtered: boolean): Promise<{ socket: string; seen: string[] }> {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-h2-'));
    const socket = path.join(dir, 'berth.sock');
    const seen: string[] = [];
    const h2 = http2.createServer();
    h2.on('stream', (stream, headers) => {
      seen.push(`${headers[':authority']} ${headers[':path']} ${headers['x-big']?.length ?? 0}`);
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    const listener = createServer((s) => h2.emit('connection', filtered ? new FilteredConnection(s) : s));
    servers.push(listener, h2);
    await new Promise<void>((r) => listener.listen(socket, () => r()));
    return { socket, seen };
  }

  async function request(socket: string, authority: string, paths: string[], extra: Record<string, string> = {}): Promise<(number | string)[]> {
    const client = http2.connect('http://localhost', { createConnection: () => connect(socket) });
    try {
      const results: (number | string)[] = [];
      for (const p of paths) {
        results.push(
          await new Promise<number | string>((resolve) => {
            const req = client.request({ ':path': p, ':authority': authority, ...extra });
            req.on('response', (h) => resolve(Number(h[':status'])));
            req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
            req.resume();
            req.end();
          }),
        );
      }
      return results;
    } finally {
      client.close();
    }
  }

  it('is needed: without it, an authority with a / is refused', async () => {
    const { socket } = await serve(false);
    expect(await request(socket, '/run/berth/berth.sock', ['/a'])).toEqual(['ERR_HTTP2_STREAM_ERROR']);
  });

  it('lets a socket-path authority through as localhost, request after request, headers intact', async () => {
    const { socket, seen } = await serve(true);
    const big = 'x'.repeat(20_000); // a block past one frame: HEADERS and CONTINUATION
    expect(await request(socket, '/run/berth/berth.sock', ['/runtime.v1alpha2.RuntimeService/Version', '/b', '/c'], { 'x-big': big })).toEqual([200, 200, 200]);
    expect(seen).toEqual(['localhost /runtime.v1alpha2.RuntimeService/Version 20000', 'localhost /b 20000', 'localhost /c 20000']);
  });

  it('passes a connection with a valid authority through unchanged', async () => {
    const { socket, seen } = await serve(true);
    expect(await request(socket, 'localhost:1234', ['/x', '/y'])).toEqual([200, 200]);
    expect(seen).toEqual(['localhost:1234 /x 0', 'localhost:1234 /y 0']);
  });

  it('refuses what is not HTTP/2 or a header block past its bound', () => {
    expect(() => new AuthorityFilter().feed(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toThrow(/preface/);
    const filter = new AuthorityFilter();
    filter.feed(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));
    const huge = Buffer.alloc(9);
    huge.writeUIntBE(1 << 20, 0, 3);
    huge[3] = 0x1;
    expect(() => filter.feed(huge)).toThrow(/header frame/);
  });
});

describe('HPACK', () => {
  it('decodes RFC 7541 C.4.1 (Huffman, indexed names, the dynamic table) and round-trips literals', () => {
    const block = Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex');
    const decoder = new HpackDecoder();
    expect(decoder.decode(block)).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    // C.4.2: the authority now comes from the dynamic table (index 62).
    expect(decoder.decode(Buffer.from('828684be5886a8eb10649cbf', 'hex'))).toContainEqual([':authority', 'www.example.com']);
    expect(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex'))).toBe('www.example.com');
    const headers: [string, string][] = [
      [':path', '/a'],
      ['k', 'v'.repeat(300)],
    ];
    expect(new HpackDecoder().decode(encodeLiterals(headers))).toEqual(headers);
  });

  it('lets the peer lower the table size and raise it again, up to what was advertised', () => {
    const decoder = new HpackDecoder();
    // 0x20: size 0 (drops the table); 0x3f e1 1f: size 4096; then a literal with indexing.
    expect(decoder.decode(Buffer.from([0x20, 0x3f, 0xe1, 0x1f, 0x40, 0x01, 0x6b, 0x01, 0x76]))).toEqual([['k', 'v']]);
    expect(decoder.decode(Buffer.from([0xbe]))).toEqual([['k', 'v']]);
    expect(() => decoder.decode(Buffer.from([0x3f, 0xe2, 0x1f]))).toThrow(/over the 4096 allowed/);
  });

  it('refuses indexes past the table and bad Huffman padding', () => {
    expect(() => new HpackDecoder().decode(Buffer.from([0xff, 0x00]))).toThrow(/not in the table/);
    expect(() => huffmanDecode(Buffer.from([0x00]))).toThrow(/padding/);
  });
});
