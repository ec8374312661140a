// Mapping object keys to local paths and back. Object keys are chosen by whoever wrote the bucket: a
// key must never place a file outside the directory a download writes into.
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { CliError, ExitCode } from './exit-codes.js';
import { displayText } from './output.js';

/**
 * The local path of `key` below `directory`, for a key under `prefix`. Refuses keys whose remainder
 * is absolute or has empty, `.` or `..` segments (path traversal) or a NUL.
 */
export function localPathFor(directory: string, prefix: string, key: string): string {
  const rest = key.slice(prefix.length);
  const segments = rest.split('/');
  if (rest === '' || rest.includes('\0') || segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new CliError(ExitCode.Usage, `object key "${displayText(key)}" cannot be a local file name safely (empty, "." or ".." segments); copy it on its own with an explicit destination`);
  }
  return join(directory, ...segments);
}

/** Every regular file under `directory`, as paths relative to it with '/' separators, sorted. */
export async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}
