// Helper programs the benchmarks build from their own sources (bench/delay-line.c, bench/static-store.go):
// built once into the server cache, named by the source's hash, so an edited source is rebuilt and
// an unchanged one is reused across runs.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER_CACHE } from '../test/harness/process.js';

/**
 * The binary built from `source` by `build(output)`, building it on first use. `describe` names the
 * failure (`build` throws with the compiler's stderr on `stderr`).
 */
export function cachedBinary(source: string, name: string, build: (output: string) => void, describe: string): string {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const binary = join(SERVER_CACHE, 'bin', `${name}-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(join(SERVER_CACHE, 'bin'), { recursive: true });
  const building = `${binary}.${process.pid}.tmp`;
  try {
    build(building);
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message);
    throw new Error(`${describe}:\n${stderr}`, { cause: error });
  }
  renameSync(building, binary); // atomic, so a parallel run never executes a half-written file
  return binary;
}
