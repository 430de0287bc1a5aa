import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './ports.js';

/**
 * A real registry: Debian's docker-registry (distribution 2.8) on
 * 127.0.0.1 and a free port, storing under a test directory; optionally
 * behind htpasswd basic auth.
 */
export interface TestRegistry {
  host: string;
  url: string;
  auth?: { username: string; password: string };
  stop(): Promise<void>;
}

export async function startRegistry(dir: string, auth?: { username: string; password: string }): Promise<TestRegistry> {
  await mkdir(path.join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  let authBlock = '';
  if (auth) {
    const { stdout } = await promisify(execFile)('htpasswd', ['-Bbn', auth.username, auth.password]);
    await writeFile(path.join(dir, 'htpasswd'), stdout);
    authBlock = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  }
  const config = path.join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${path.join(dir, 'storage')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${authBlock}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`registry on ${url}`, async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      const res = await fetch(`${url}/v2/`);
      return res.status === 200 || res.status === 401;
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    auth,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
