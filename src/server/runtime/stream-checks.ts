import { invalidArgument } from '../../errors.js';

/** The reference streaming server's rules: some stream, and no stderr with a terminal (it is merged). */
export function checkStreams(rpc: string, req: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
  if (!req.stdin && !req.stdout && !req.stderr) throw invalidArgument(`${rpc}: one of stdin, stdout or stderr must be requested`);
  if (req.tty && req.stderr) throw invalidArgument(`${rpc}: tty and stderr cannot both be true (a terminal merges stderr into stdout)`);
}
