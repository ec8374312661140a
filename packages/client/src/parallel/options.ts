// Parallel reads: how large objects are fetched as several ranged GETs at once, opened off the
// caller's thread and delivered in order. Off by default (one GET per GetObject, as S3Client does);
// on per client or per request.
import { availableParallelism } from 'node:os';
import { DecryptPool } from './decrypt-pool.js';

/**
 * How a GetObject is split into ranged GETs.
 *
 * @example
 * ```ts
 * await client.send(withS3Crypt(new GetObjectCommand({ Bucket, Key }), { parallelReads: { rangeSize: 16 * 1024 * 1024, concurrency: 8 } }));
 * ```
 */
export interface ParallelReadOptions {
  /** Stored bytes per ranged GET, rounded down to whole segments (at least one). Default 8 MiB. */
  readonly rangeSize?: number;
  /**
   * Ranges fetched, being opened or waiting for the reader at once. Memory is bounded by about
   * `(concurrency + 1) × rangeSize` of ciphertext and plaintext together. Default 4.
   */
  readonly concurrency?: number;
  /** Reads of fewer stored bytes than this stay a single GET. Default `2 × rangeSize`. */
  readonly minSize?: number;
}

/**
 * The client's parallel reads: whether every GetObject uses them, and its decryption workers.
 *
 * @example
 * ```ts
 * const client = new EncryptingS3Client({ client: s3, keyring, parallelReads: { concurrency: 8, workers: 2 } });
 * ```
 */
export interface ParallelReadClientOptions extends ParallelReadOptions {
  /**
   * Worker threads that authenticate and decrypt ranges, started on first use. Default: one less
   * than the available cores, at most 4; 0 decrypts on the calling thread.
   */
  readonly workers?: number;
}

export interface ResolvedParallelReads {
  readonly rangeSize: number;
  readonly concurrency: number;
  readonly minSize: number;
}

/** The client's setting, and the pool every parallel read of the client shares. */
export interface ParallelReads {
  /** Used for every GetObject, unless a request says otherwise. */
  readonly byDefault: ResolvedParallelReads | undefined;
  readonly defaults: ResolvedParallelReads;
  readonly pool: DecryptPool;
}

const MiB = 1024 * 1024;
const MAX_RANGE_SIZE = 1024 * MiB;

function integerOption(value: unknown, fallback: number, name: string, where: string, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new TypeError(`${where}: parallelReads.${name} must be an integer from ${min} to ${max}`);
  return value;
}

function resolveSettings(options: ParallelReadOptions, base: ResolvedParallelReads | undefined, where: string): ResolvedParallelReads {
  const rangeSize = integerOption(options.rangeSize, base?.rangeSize ?? 8 * MiB, 'rangeSize', where, MAX_RANGE_SIZE);
  const concurrency = integerOption(options.concurrency, base?.concurrency ?? 4, 'concurrency', where, 64);
  const minSize = integerOption(options.minSize, options.rangeSize === undefined && base ? base.minSize : 2 * rangeSize, 'minSize', where, Number.MAX_SAFE_INTEGER, 0);
  return { rangeSize, concurrency, minSize };
}

function checkShape(value: unknown, where: string): asserts value is boolean | ParallelReadClientOptions | undefined {
  if (value !== undefined && typeof value !== 'boolean' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new TypeError(`${where}: parallelReads must be a boolean or an object`);
  }
}

/** The client option, checked: a TypeError names what is wrong. */
export function resolveParallelReads(option: unknown): ParallelReads {
  const where = 'EncryptingS3Client';
  checkShape(option, where);
  const given = typeof option === 'object' ? option : {};
  const workers = integerOption(given.workers, Math.max(0, Math.min(4, availableParallelism() - 1)), 'workers', where, 64, 0);
  const defaults = resolveSettings(given, undefined, where);
  return { byDefault: option === undefined || option === false ? undefined : defaults, defaults, pool: new DecryptPool(workers) };
}

/** Checks a request's `parallelReads` option. */
export function checkRequestParallelReads(option: unknown, where: string): void {
  checkShape(option, where);
  if (typeof option === 'object' && 'workers' in option) throw new TypeError(`${where}: parallelReads.workers is a client option`);
  if (typeof option === 'object') resolveSettings(option, undefined, where);
}

/** The settings for one GetObject: the request's choice over the client's; undefined for a single GET. */
export function parallelReadsFor(reads: ParallelReads | undefined, request: boolean | ParallelReadOptions | undefined): ResolvedParallelReads | undefined {
  if (!reads || request === false) return undefined;
  if (request === undefined) return reads.byDefault;
  if (request === true) return reads.byDefault ?? reads.defaults;
  return resolveSettings(request, reads.byDefault ?? reads.defaults, 'withS3Crypt');
}
