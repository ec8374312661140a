/**
 * The contract between s3crypt and anything that protects data keys: local master keys, remote KMSs,
 * or several of them at once. It is deliberately small so that adapters for any key service fit.
 */

/**
 * Non-secret key/value pairs bound to a wrapped data key. A keyring must make unwrapping fail unless
 * the same context is presented again (AES-GCM AAD, KMS encryption context, Transit associated data).
 * s3crypt fills it with the object's identity: see {@link objectEncryptionContext}.
 *
 * @example
 * ```ts
 * const context: EncryptionContext = objectEncryptionContext('my-bucket', 'reports/2026.csv');
 * ```
 */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * One data key as wrapped by one key-encryption key. Stored in the object's envelope.
 *
 * @example
 * ```ts
 * const edk: EncryptedDataKey = { providerId: 'raw-aes', keyId: 'app-key-1', ciphertext: wrapped };
 * ```
 */
export interface EncryptedDataKey {
  /** Which kind of keyring wrote it, e.g. `raw-aes`, `raw-rsa`, `aws-kms`. ASCII, at most 255 bytes. */
  readonly providerId: string;
  /** Which key (and version, where the service has versions) wrapped it. UTF-8, at most 65535 bytes. */
  readonly keyId: string;
  /** The wrapped key bytes, opaque to s3crypt. */
  readonly ciphertext: Uint8Array;
}

/**
 * Optional hooks a caller passes with a keyring request to learn what the keyring did, e.g. whether
 * a caching keyring answered from its cache. Keyrings without a cache never call it.
 *
 * @example
 * ```ts
 * const observer: KeyringObserver = { cacheLookup: (outcome) => metrics.increment(`keyring.cache.${outcome}`) };
 * await keyring.onDecrypt({ context, encryptedDataKeys, observer });
 * ```
 */
export interface KeyringObserver { cacheLookup?(outcome: 'hit' | 'miss', edk?: EncryptedDataKey): void }

/**
 * Input to {@link Keyring.onEncrypt}.
 *
 * @example
 * ```ts
 * const { dataKey, encryptedDataKeys } = await keyring.onEncrypt({ context });
 * ```
 */
export interface EncryptRequest {
  readonly context: EncryptionContext;
  /**
   * Aborts the keyring's work (and any KMS request it makes): the caller's `abortSignal` of
   * `send(command, { abortSignal })`. A keyring rejects promptly with the signal's reason, or with a
   * typed `ERR_KMS_UNAVAILABLE` error when its own timeout fires.
   */
  readonly signal?: AbortSignal;
  /**
   * The data key to wrap. Absent when the keyring is the first one asked: it then generates a fresh
   * 32-byte key (locally, or with the service's GenerateDataKey).
   */
  readonly dataKey?: Uint8Array;
  readonly observer?: KeyringObserver;
}

/**
 * Output of {@link Keyring.onEncrypt}.
 *
 * @example
 * ```ts
 * const result: EncryptResult = await keyring.onEncrypt({ context, dataKey });
 * ```
 */
export interface EncryptResult {
  /** The data key: the one passed in, or the one generated. The caller zeroes it after use. */
  readonly dataKey: Uint8Array;
  /** At least one wrapped copy of `dataKey`. */
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
}

/**
 * Input to {@link Keyring.onDecrypt}.
 *
 * @example
 * ```ts
 * const dataKey = await keyring.onDecrypt({ context, encryptedDataKeys: envelope.encryptedDataKeys });
 * ```
 */
export interface DecryptRequest {
  readonly context: EncryptionContext;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  /** As {@link EncryptRequest.signal}. */
  readonly signal?: AbortSignal;
  readonly observer?: KeyringObserver;
}

/**
 * Names key-encryption keys (KEKs) as envelopes record them: a provider id and a key id, matched
 * exactly, or as a prefix (every version of a versioned key) or suffix (a bare KMS key id against
 * the key ARN recorded in envelopes). A reader's key policy is a list of these.
 *
 * @example
 * ```ts
 * const trusted: KekMatcher[] = [
 *   { providerId: 'raw-aes', keyId: 'app-key-2026' },
 *   { providerId: 'azure-key-vault', keyId: 'https://my-vault.vault.azure.net/keys/kek/', match: 'prefix', publicKey: true },
 * ];
 * ```
 */
export interface KekMatcher {
  readonly providerId: string;
  readonly keyId: string;
  /** How `keyId` is compared with an envelope's key id. Default `exact`. */
  readonly match?: 'exact' | 'prefix' | 'suffix';
  /**
   * The KEK wraps with a public key (RSA-OAEP): anyone holding the public key can produce wrapped
   * keys for it, so such a key alone never vouches for who wrote an object.
   */
  readonly publicKey?: boolean;
}

/**
 * Wraps and unwraps per-object data keys.
 *
 * - `onEncrypt` must fail (reject) rather than return an unwrapped key: s3crypt then uploads nothing.
 * - `onDecrypt` resolves `undefined` when none of the encrypted data keys belongs to this keyring
 *   (another keyring may own one), and rejects with a typed error when one of its own keys cannot be
 *   unwrapped (wrong context, tampered bytes, key disabled, service down).
 *
 * @example
 * ```ts
 * const keyring: Keyring = new RawAesKeyring({ keyName: 'app-key-1', masterKey });
 * const client = new EncryptingS3Client({ client: new S3Client({}), keyring });
 * ```
 */
export interface Keyring {
  onEncrypt(request: EncryptRequest): Promise<EncryptResult>;
  onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined>;
  /**
   * The KEKs this keyring unwraps with, exactly as envelopes name them: a reader's default key
   * policy. `undefined` when the keyring cannot know them without asking its service (a KMS alias),
   * in which case the reader must name its trusted keys itself.
   */
  kekMatchers?(): readonly KekMatcher[] | undefined;
}

/**
 * Length in bytes of every data key.
 *
 * @example
 * ```ts
 * const dataKey = randomBytes(DATA_KEY_LENGTH);
 * ```
 */
export const DATA_KEY_LENGTH = 32;

/**
 * The encryption context s3crypt binds to each object's data key: the bucket and key it is stored
 * under, the format version, and any caller context. Moving an object's envelope to another
 * bucket/key therefore makes its data key impossible to unwrap (and, in format 2, its header fail).
 *
 * @example
 * ```ts
 * objectEncryptionContext('b', 'k'); // { 's3crypt:bucket': 'b', 's3crypt:key': 'k', 's3crypt:format': '2' }
 * ```
 */
export function objectEncryptionContext(bucket: string, key: string, formatVersion = 2, callerContext: EncryptionContext = {}): EncryptionContext {
  return { ...callerContext, 's3crypt:bucket': bucket, 's3crypt:key': key, 's3crypt:format': String(formatVersion) };
}
