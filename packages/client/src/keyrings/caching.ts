import { createHash } from 'node:crypto';
import { KeyringError, S3CryptError } from '../errors.js';
import { copyKey, KeyCache, MAX_TIMER_MS, type EntryLimits } from './key-cache.js';
import {
  DATA_KEY_LENGTH,
  type DecryptRequest,
  type EncryptRequest,
  type EncryptResult,
  type EncryptedDataKey,
  type EncryptionContext,
  type KekMatcher,
  type Keyring,
} from './keyring.js';
import { SingleFlight } from './single-flight.js';

const DEFAULT_MAX_ENTRIES = 1000;

/**
 * @example
 * ```ts
 * const options: CachingKeyringOptions = { keyring: kmsKeyring, maxAgeMs: 5 * 60_000, maxEntries: 10_000 };
 * ```
 */
export interface CachingKeyringOptions {
  /** The keyring whose answers are cached: any keyring, typically a KMS keyring. */
  readonly keyring: Keyring;
  /**
   * Required. How long an unwrapped data key is served from the cache, counted from when the inner
   * keyring returned it (being used does not extend it). It is also the longest a disabled or
   * deleted KMS key still opens objects in this process: choose it against your crypto-shredding
   * promise. An integer from 1 to 2147483647 (about 24.8 days).
   */
  readonly maxAgeMs: number;
  /** Most data keys held at once; the least recently used goes first. Default 1000. */
  readonly maxEntries?: number;
  /** Most times one unwrapped data key is handed out before it is dropped. Default: no limit. */
  readonly maxUses?: number;
  /**
   * Off unless given. Also caches data keys the inner keyring generates on encrypt, keyed by the full
   * encryption context, so a hit is possible only for another write to the same bucket and key with
   * the same caller context (an overwrite, a new version): those writes then share one data key, up
   * to `maxUses` writes within `maxAgeMs` (default: the read `maxAgeMs`). See the README's "Caching
   * keyring" section for the trade-off; for write volume use the hierarchical keyring instead.
   */
  readonly cacheGeneratedKeys?: { readonly maxUses: number; readonly maxAgeMs?: number };
}

/**
 * Counters of a {@link CachingKeyring}, since it was created.
 *
 * @example
 * ```ts
 * const { hits, misses, innerCalls } = keyring.stats();
 * ```
 */
export interface CachingKeyringStats {
  /** Lookups answered from a cached entry. */
  readonly hits: number;
  /** Lookups that shared an inner call already under way for the same key (single-flight). */
  readonly coalesced: number;
  /** Lookups that found nothing and started an inner call. */
  readonly misses: number;
  /** Calls made to the inner keyring, including those the cache does not apply to. */
  readonly innerCalls: number;
  /** Entries dropped and zeroed for capacity, age or uses (not by `flush()`). */
  readonly evictions: number;
  /** Data keys held now. */
  readonly entries: number;
}

/** Which cache a key belongs to: never the same key for a read and a write entry. */
const DECRYPT = 1;
const ENCRYPT = 2;
const CACHE_KEY_LABEL = Buffer.from('s3crypt caching keyring v1', 'utf8');

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/**
 * SHA-256 over an unambiguous encoding: label, kind, for decrypt the wrapped key (provider id, key id,
 * ciphertext), then the entry count and every context entry sorted by key, each field length-prefixed.
 * So a cached key is only ever found again for the same wrapped key under the same full context.
 */
function cacheKey(kind: typeof DECRYPT | typeof ENCRYPT, context: EncryptionContext, edk?: EncryptedDataKey): string {
  const hash = createHash('sha256').update(CACHE_KEY_LABEL).update(Uint8Array.of(kind));
  const field = (bytes: Uint8Array): void => {
    hash.update(u32(bytes.length)).update(bytes);
  };
  if (edk) {
    field(Buffer.from(edk.providerId, 'utf8'));
    field(Buffer.from(edk.keyId, 'utf8'));
    field(edk.ciphertext);
  }
  const keys = Object.keys(context).sort();
  hash.update(u32(keys.length));
  for (const key of keys) {
    field(Buffer.from(key, 'utf8'));
    field(Buffer.from(String(context[key]), 'utf8'));
  }
  return hash.digest('base64');
}

/** An inner keyring's unwrapped key, with the cache generation it was asked for in. */
interface Unwrapped {
  readonly dataKey: Uint8Array;
  readonly generation: number;
}

function positiveInteger(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new TypeError(`CachingKeyring: ${name} must be an integer from 1 to ${max}`);
  }
  return value;
}

function optionalPositiveInteger(value: unknown, name: string, fallback: number): number {
  return value === undefined ? fallback : positiveInteger(value, name);
}

/** The first typed failure, else the first one: as the multi-keyring reports. */
function firstFailure(failures: readonly unknown[]): unknown {
  return failures.find((failure) => failure instanceof S3CryptError) ?? failures[0];
}

/**
 * Decorates a keyring with a bounded cache of data keys, so that repeated reads of an object (ten
 * ranged GETs, a HEAD then a GET) cost one KMS call instead of one each.
 *
 * - **Reads**: each unwrapped data key is cached under a SHA-256 of its wrapped key and the full
 *   encryption context (bucket, key, format, caller context), so it is only ever served again for
 *   the same object under the same context. Entries are bounded by `maxEntries` (least recently used
 *   first), `maxAgeMs` (mandatory) and `maxUses`, and zeroed when they go. Every caller gets its own
 *   copy of the key (which it zeroes); the cache's copy never leaves it.
 * - **Single-flight**: concurrent misses for the same entry share one inner call. A failure is
 *   shared by all its waiters and not cached, nor is `undefined` (not this keyring's key). A waiter
 *   whose `signal` aborts rejects at once with its reason while the call goes on for the others; the
 *   inner call's own signal aborts only once every waiter has left (then nothing is cached). The
 *   shared call carries the first caller's context (the same for all, by the cache key) and observer.
 * - **Writes**: passed through, unless `cacheGeneratedKeys` is set (see there).
 * - **Crypto-shredding**: a disabled KMS key keeps working here until `maxAgeMs` runs out; `flush()`
 *   ends that at once. Unwraps under way during a flush still answer their callers but are not cached.
 *
 * @example
 * ```ts
 * const keyring = new CachingKeyring({ keyring: new AwsKmsKeyring({ keyId: keyArn }), maxAgeMs: 5 * 60_000 });
 * const s3 = new EncryptingS3Client({ client: new S3Client({}), keyring });
 * // after disabling the KMS key, to stop reads in this process at once:
 * keyring.flush();
 * ```
 */
export class CachingKeyring implements Keyring {
  readonly #inner: Keyring;
  readonly #cache: KeyCache;
  readonly #readLimits: EntryLimits;
  readonly #writeLimits: EntryLimits | undefined;
  readonly #unwraps: SingleFlight<Unwrapped | undefined, Uint8Array | undefined>;
  /** Bumped by flush(): an unwrap asked for before it is not cached after it. */
  #generation = 0;
  #hits = 0;
  #coalesced = 0;
  #misses = 0;
  #innerCalls = 0;

  constructor(options: CachingKeyringOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('CachingKeyring: options are required');
    const { keyring, maxAgeMs, maxEntries, maxUses, cacheGeneratedKeys } = options;
    if (typeof keyring?.onEncrypt !== 'function' || typeof keyring.onDecrypt !== 'function') {
      throw new TypeError('CachingKeyring: keyring must be a Keyring (onEncrypt and onDecrypt)');
    }
    if (maxAgeMs === undefined) throw new TypeError('CachingKeyring: maxAgeMs is required (a cache without an age limit would keep a disabled key working)');
    this.#inner = keyring;
    this.#readLimits = {
      maxAgeMs: positiveInteger(maxAgeMs, 'maxAgeMs', MAX_TIMER_MS),
      maxUses: optionalPositiveInteger(maxUses, 'maxUses', Number.POSITIVE_INFINITY),
    };
    this.#cache = new KeyCache(optionalPositiveInteger(maxEntries, 'maxEntries', DEFAULT_MAX_ENTRIES));
    if (cacheGeneratedKeys !== undefined) {
      if (typeof cacheGeneratedKeys !== 'object' || cacheGeneratedKeys === null) {
        throw new TypeError('CachingKeyring: cacheGeneratedKeys must be { maxUses } (how many writes may share one generated data key)');
      }
      this.#writeLimits = {
        maxUses: positiveInteger(cacheGeneratedKeys.maxUses, 'cacheGeneratedKeys.maxUses'),
        maxAgeMs: cacheGeneratedKeys.maxAgeMs === undefined ? this.#readLimits.maxAgeMs : positiveInteger(cacheGeneratedKeys.maxAgeMs, 'cacheGeneratedKeys.maxAgeMs', MAX_TIMER_MS),
      };
    }
    this.#unwraps = new SingleFlight({
      share: (value) => value && copyKey(value.dataKey),
      settle: (id, value, waiters) => {
        if (!value) return;
        if (waiters === 0 || value.generation !== this.#generation) value.dataKey.fill(0);
        else this.#cache.put(id, value.dataKey, this.#readLimits, waiters);
      },
    });
  }

  /** The inner keyring's KEKs: caching changes nothing about which keys may open an object. */
  kekMatchers(): readonly KekMatcher[] | undefined {
    return this.#inner.kekMatchers?.();
  }

  /** Zeroes and drops every cached data key, so that the next read of any object asks the inner keyring. */
  flush(): void {
    this.#generation += 1;
    this.#cache.clear();
  }

  /** Counters since creation, and the number of data keys held now. */
  stats(): CachingKeyringStats {
    return {
      hits: this.#hits,
      coalesced: this.#coalesced,
      misses: this.#misses,
      innerCalls: this.#innerCalls,
      evictions: this.#cache.evictions,
      entries: this.#cache.size,
    };
  }

  /**
   * Each wrapped key in turn, from the cache or through the inner keyring (one wrapped key per inner
   * call, so each is cached on its own); the first that unwraps wins. If none does and some failed,
   * rejects with the first typed failure; an aborted `signal` rejects with its reason.
   */
  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    request.signal?.throwIfAborted();
    const failures: unknown[] = [];
    for (const edk of request.encryptedDataKeys) {
      try {
        const dataKey = await this.#decryptOne(request, edk);
        if (dataKey) return dataKey;
      } catch (error) {
        request.signal?.throwIfAborted();
        failures.push(error);
      }
    }
    if (failures.length > 0) throw firstFailure(failures);
    return undefined;
  }

  async #decryptOne(request: DecryptRequest, edk: EncryptedDataKey): Promise<Uint8Array | undefined> {
    request.signal?.throwIfAborted();
    const id = cacheKey(DECRYPT, request.context, edk);
    if (this.#cache.has(id)) {
      request.observer?.cacheLookup?.('hit', edk);
      this.#hits += 1;
      return this.#cache.take(id)!.dataKey;
    }
    const joining = this.#unwraps.has(id);
    request.observer?.cacheLookup?.(joining ? 'hit' : 'miss', edk);
    if (joining) this.#coalesced += 1;
    else this.#misses += 1;
    return this.#unwraps.run(id, request.signal, (signal) => this.#unwrap(request, edk, signal));
  }

  /** The shared inner call: the caller's context and observer, the flight's own signal. */
  async #unwrap(request: DecryptRequest, edk: EncryptedDataKey, signal: AbortSignal): Promise<Unwrapped | undefined> {
    const generation = this.#generation;
    this.#innerCalls += 1;
    const dataKey = await this.#inner.onDecrypt({
      context: request.context,
      encryptedDataKeys: [edk],
      signal,
      ...(request.observer ? { observer: request.observer } : {}),
    });
    if (dataKey === undefined) return undefined;
    if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_LENGTH) {
      if (dataKey instanceof Uint8Array) dataKey.fill(0);
      throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the inner keyring returned a data key of the wrong length');
    }
    return { dataKey, generation };
  }

  /**
   * Passed to the inner keyring, except that with `cacheGeneratedKeys` a request for a fresh data key
   * (no `dataKey` given) may be answered with a cached one generated for the same full context. A
   * request that brings its own data key (a copy to another object) always goes to the inner keyring.
   */
  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    request.signal?.throwIfAborted();
    const limits = this.#writeLimits;
    if (!limits || request.dataKey !== undefined) {
      this.#innerCalls += 1;
      return this.#inner.onEncrypt(request);
    }
    const id = cacheKey(ENCRYPT, request.context);
    if (this.#cache.has(id)) {
      request.observer?.cacheLookup?.('hit');
      this.#hits += 1;
      const { dataKey, encryptedDataKeys } = this.#cache.take(id)!;
      return { dataKey, encryptedDataKeys: encryptedDataKeys ?? [] };
    }
    request.observer?.cacheLookup?.('miss');
    this.#misses += 1;
    this.#innerCalls += 1;
    const generation = this.#generation;
    const result = await this.#inner.onEncrypt(request);
    const cacheable =
      generation === this.#generation &&
      result.dataKey instanceof Uint8Array &&
      result.dataKey.length === DATA_KEY_LENGTH &&
      Array.isArray(result.encryptedDataKeys) &&
      result.encryptedDataKeys.length > 0;
    // The caller owns (and zeroes) the key it gets; the cache keeps a copy of its own.
    if (cacheable) this.#cache.put(id, copyKey(result.dataKey), limits, 1, result.encryptedDataKeys);
    return result;
  }
}
