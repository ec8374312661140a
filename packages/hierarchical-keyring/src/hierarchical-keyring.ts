import { randomBytes } from 'node:crypto';
import {
  DATA_KEY_LENGTH,
  KeyringError,
  S3CryptError,
  unwrapFirst,
  untilAborted,
  type DecryptRequest,
  type EncryptRequest,
  type EncryptResult,
  type KekMatcher,
  type Keyring,
} from '@s3crypt/client';
import { BranchKeyStore, loadBranchKeyVersion } from './branch-key-store.js';
import { BranchKeyError } from './errors.js';
import { assertBranchKeyId, edkKeyId, edkKeyIdPrefix, parseEdkKeyId } from './lib/names.js';
import { TtlCache } from './lib/ttl-cache.js';
import { unwrapDataKey, wrapDataKey } from './lib/wrap.js';

/**
 * The `providerId` of every encrypted data key a {@link HierarchicalKeyring} writes.
 *
 * @example
 * ```ts
 * const mine = envelope.encryptedDataKeys.filter((edk) => edk.providerId === HIERARCHY_PROVIDER_ID);
 * ```
 */
export const HIERARCHY_PROVIDER_ID = 's3crypt-hierarchy';

/** Branch key versions a keyring keeps by default: the active one and a few older ones for reads. */
const DEFAULT_MAX_CACHE_ENTRIES = 8;
/** Loads retried when the loaded key left the cache before it could be used (a tiny cache under load). */
const MAX_LOAD_ATTEMPTS = 5;

/**
 * Options of {@link HierarchicalKeyring}.
 *
 * @example
 * ```ts
 * const options: HierarchicalKeyringOptions = { keyStore: store, branchKeyId: 'orders', cacheTtlMs: 5 * 60_000 };
 * ```
 */
export interface HierarchicalKeyringOptions {
  readonly keyStore: BranchKeyStore;
  /** The branch key new objects are wrapped under (its active version); readers need the same id. */
  readonly branchKeyId: string;
  /**
   * How long, in milliseconds, an unwrapped branch key version and the active version number are
   * kept. Required: it bounds how long a disabled or revoked protector key, or a rotation, takes to
   * be noticed. The protector is called about once per TTL per version in use.
   */
  readonly cacheTtlMs: number;
  /** How many branch key versions the cache holds at most (least recently used goes first). Default 8. */
  readonly maxCacheEntries?: number;
}

/**
 * A keyring that wraps each object's data key with a key derived locally from a branch key: the
 * active version of `branchKeyId` in the {@link BranchKeyStore}, unwrapped by the store's protector
 * (a KMS) once and then cached for `cacheTtlMs`. Each object gets a fresh 16-byte salt, hence its own
 * wrapping key (HKDF-SHA256), and its data key is sealed with AES-256-GCM, the object's full
 * encryption context as AAD. So the KMS sees one call per TTL, not one per object.
 *
 * Encrypted data keys record `s3crypt-hierarchy` / `<branchKeyId>:v<version>`; a reader's key policy
 * trusts the branch key by the prefix `<branchKeyId>:v` (what `kekMatchers()` returns).
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * import { EncryptingS3Client } from '@s3crypt/client';
 * import { VaultTransitKeyring } from '@s3crypt/kms-vault';
 * import { BranchKeyStore, HierarchicalKeyring } from '@s3crypt/hierarchical-keyring';
 *
 * const s3 = new S3Client({});
 * const keyStore = new BranchKeyStore({ client: s3, bucket: 'my-key-store', name: 'prod', protector: new VaultTransitKeyring({ keyName: 'branch-keys' }) });
 * const keyring = new HierarchicalKeyring({ keyStore, branchKeyId: 'orders', cacheTtlMs: 5 * 60_000 });
 * const client = new EncryptingS3Client({ client: s3, keyring });
 * ```
 */
export class HierarchicalKeyring implements Keyring {
  readonly branchKeyId: string;
  readonly #store: BranchKeyStore;
  /** Unwrapped branch key versions, zeroed when they leave. */
  readonly #keys: TtlCache<number, Buffer>;
  /** The active version number, under the same TTL. */
  readonly #active: TtlCache<'active', number>;

  constructor(options: HierarchicalKeyringOptions) {
    if (!(options?.keyStore instanceof BranchKeyStore)) throw new TypeError('HierarchicalKeyring: keyStore must be a BranchKeyStore');
    assertBranchKeyId(options.branchKeyId, 'HierarchicalKeyring');
    const { cacheTtlMs, maxCacheEntries = DEFAULT_MAX_CACHE_ENTRIES } = options;
    if (typeof cacheTtlMs !== 'number' || !Number.isFinite(cacheTtlMs) || cacheTtlMs <= 0) {
      throw new TypeError('HierarchicalKeyring: cacheTtlMs is required, a positive number of milliseconds');
    }
    if (!Number.isSafeInteger(maxCacheEntries) || maxCacheEntries < 1) throw new TypeError('HierarchicalKeyring: maxCacheEntries must be a positive integer');
    this.branchKeyId = options.branchKeyId;
    this.#store = options.keyStore;
    this.#keys = new TtlCache({ ttlMs: cacheTtlMs, maxEntries: maxCacheEntries, dispose: (key) => key.fill(0) });
    this.#active = new TtlCache({ ttlMs: cacheTtlMs, maxEntries: 1, dispose: () => undefined });
  }

  /** Every version of the branch key: `s3crypt-hierarchy` / `<branchKeyId>:v` as a prefix. */
  kekMatchers(): readonly KekMatcher[] {
    return [{ providerId: HIERARCHY_PROVIDER_ID, keyId: edkKeyIdPrefix(this.branchKeyId), match: 'prefix' }];
  }

  /**
   * Zeroes every cached branch key and forgets the active version: the next operation asks the key
   * store and the protector again (after a rotation, or to make a disabled KMS key bite at once).
   *
   * @example
   * ```ts
   * await store.rotateBranchKey('orders');
   * keyring.flush(); // new objects use the new version now, not after cacheTtlMs
   * ```
   */
  flush(): void {
    this.#keys.flush();
    this.#active.flush();
  }

  async onEncrypt({ context, dataKey, signal, observer }: EncryptRequest): Promise<EncryptResult> {
    if (dataKey !== undefined && (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_LENGTH)) {
      throw new TypeError(`HierarchicalKeyring: dataKey must be ${DATA_KEY_LENGTH} bytes`);
    }
    signal?.throwIfAborted();
    const cachedActive = this.#active.peek('active');
    const version = cachedActive?.value ?? (await this.#loaded(this.#active, 'active', () => this.#store.activeVersion(this.branchKeyId), signal, (active) => active));
    const keyId = edkKeyId(this.branchKeyId, version);
    const key = dataKey ?? randomBytes(DATA_KEY_LENGTH);
    try {
      const ciphertext = await this.#withBranchKey(
        version,
        signal,
        (outcome) => observer?.cacheLookup?.(cachedActive && outcome === 'hit' ? 'hit' : 'miss'),
        (branchKey) => wrapDataKey(branchKey, key, keyId, context),
      );
      return { dataKey: key, encryptedDataKeys: [{ providerId: HIERARCHY_PROVIDER_ID, keyId, ciphertext }] };
    } catch (error) {
      if (dataKey === undefined) key.fill(0);
      throw error;
    }
  }

  async onDecrypt({ context, encryptedDataKeys, signal, observer }: DecryptRequest): Promise<Uint8Array | undefined> {
    signal?.throwIfAborted();
    const prefix = edkKeyIdPrefix(this.branchKeyId);
    const own = encryptedDataKeys.filter((edk) => edk.providerId === HIERARCHY_PROVIDER_ID && edk.keyId.startsWith(prefix));
    return unwrapFirst(
      own,
      async (edk) => {
        const version = parseEdkKeyId(this.branchKeyId, edk.keyId);
        if (version === undefined) throw new RangeError('not a branch key version');
        return this.#withBranchKey(
          version,
          signal,
          (outcome) => observer?.cacheLookup?.(outcome, edk),
          (branchKey) => unwrapDataKey(branchKey, edk.ciphertext, edk.keyId, context),
        );
      },
      (error) => this.#unwrapError(error),
      signal,
    );
  }

  /** Runs `use` on the branch key version, synchronously, from the cache or freshly loaded. */
  async #withBranchKey<T>(version: number, signal: AbortSignal | undefined, observe: (outcome: 'hit' | 'miss') => void, use: (branchKey: Buffer) => T): Promise<T> {
    const cached = this.#keys.peek(version);
    observe(cached ? 'hit' : 'miss');
    if (cached) return use(cached.value);
    return this.#loaded(this.#keys, version, () => loadBranchKeyVersion(this.#store, this.branchKeyId, version), signal, use);
  }

  /**
   * `use` of a value from a (shared) load, run in the same synchronous step that checks the value is
   * still live, so an eviction can never zero it under `use`. The load runs without the caller's
   * signal, since other callers may be waiting for it; the caller stops waiting when its signal aborts.
   */
  async #loaded<K, V, T>(cache: TtlCache<K, V>, key: K, loader: () => Promise<V>, signal: AbortSignal | undefined, use: (value: V) => T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const entry = await untilAborted(cache.load(key, loader), signal);
      if (entry.live) return use(entry.value);
      if (attempt === MAX_LOAD_ATTEMPTS) {
        throw new BranchKeyError('ERR_BRANCH_KEY_STORE_FAILED', this.branchKeyId, undefined, `branch key ${this.branchKeyId}: the cache evicted each loaded value before use; raise maxCacheEntries`);
      }
    }
  }

  #unwrapError(error: unknown): Error {
    if (error instanceof S3CryptError) return error;
    return new KeyringError('ERR_KEY_UNWRAP_FAILED', `branch key ${this.branchKeyId} could not unwrap the data key (wrong context, tampered key, or the object was moved)`);
  }
}
