import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, connectCri, type CriClient } from '../e2e/lib/cri-client.js';
import { stopChild } from './startup.js';
import { timed } from './measure.js';

const SERVER = fileURLToPath(new URL('./grpc-floor-server.js', import.meta.url));

/** `runs` Version calls one after another, as a poller makes them: each call's time. */
export async function versionCalls(client: CriClient, runs: number): Promise<number[]> {
  const rt = client.runtime;
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push((await timed(() => call(rt, rt.Version, {})))[1]);
  return out;
}

/** Version against a bare grpc-js server (bench/grpc-floor-server.ts) in its own process. */
export async function grpcFloorMs(dir: string, runs: number): Promise<number[]> {
  const socket = path.join(dir, 'grpc-floor.sock');
  const child = spawn(process.execPath, [SERVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [first] = (await once(child.stdout!, 'data')) as [Buffer];
    if (!first.toString().startsWith('ready')) throw new Error(`grpc floor server: ${first.toString()}`);
    const client = await connectCri(socket);
    try {
      await versionCalls(client, 500); // JIT warm-up, as the runtimes have had by then
      return await versionCalls(client, runs);
    } finally {
      client.close();
    }
  } finally {
    await stopChild(child);
  }
}
