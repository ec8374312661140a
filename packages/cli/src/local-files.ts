// Reading the local files the options name (keys, manifests, public keys): a missing one is "not
// found" (exit 3), any other failure the caller's code, and the message names the file and its role.
import { readFile, stat } from 'node:fs/promises';
import { CliError, ExitCode } from './exit-codes.js';

/** The bytes of `path`, which holds `what` (e.g. "manifest"); `otherwise` is the exit code of a failure other than ENOENT. */
export async function readLocalFile(path: string, what: string, otherwise: ExitCode): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ExitCode.NotFound : otherwise;
    throw new CliError(code, `cannot read ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Whether `path` is an existing directory. */
export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((info) => info.isDirectory(), () => false);
}
