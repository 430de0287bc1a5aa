import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * cri-tools' crictl, a client this project did not write, from the shared
 * tools beside the clone (CI has them; a user's clone may not, and the
 * tests that need it skip with that reason).
 */
export const CRICTL = fileURLToPath(new URL('../../../shared/tools/crictl', import.meta.url));

export async function haveCrictl(): Promise<boolean> {
  return access(CRICTL).then(
    () => true,
    () => false,
  );
}

/** Runs crictl against `socket`; resolves with stdout, rejects with stderr in the message. */
export async function crictl(socket: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const run = promisify(execFile);
  try {
    const { stdout } = await run(CRICTL, ['--runtime-endpoint', `unix://${socket}`, '--image-endpoint', `unix://${socket}`, '--timeout', '30s', ...args], {
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`crictl ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}
