import { randomBytes } from 'node:crypto';

const BLOCK = randomBytes(1024 * 1024);

/** `bytes` of data in 1 MiB chunks, generated lazily so the source itself holds no memory. */
export function* generated(bytes: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes; offset += BLOCK.length) yield BLOCK.subarray(0, Math.min(BLOCK.length, bytes - offset));
}
