import { invalidArgument } from '../../errors.js';

/**
 * The process arguments, by the CRI's rules: `command` replaces the
 * image's Entrypoint and `args` its Cmd; when `command` is given without
 * `args`, the image's Cmd is not appended.
 */
export function processArgs(
  image: { Entrypoint?: string[] | null; Cmd?: string[] | null },
  cri: { command: string[]; args: string[] },
  containerName: string,
): string[] {
  let args: string[];
  if (cri.command.length > 0) args = [...cri.command, ...cri.args];
  else if (cri.args.length > 0) args = [...(image.Entrypoint ?? []), ...cri.args];
  else args = [...(image.Entrypoint ?? []), ...(image.Cmd ?? [])];
  if (args.length === 0) throw invalidArgument(`container ${containerName}: no command specified (the image has no entrypoint or cmd)`);
  return args;
}
