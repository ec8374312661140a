import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto';
import { KeyringError } from '../errors.js';
import { DATA_KEY_LENGTH, type DecryptRequest, type EncryptedDataKey, type EncryptRequest, type EncryptResult, type KekMatcher, type Keyring } from './keyring.js';
import { S3EC_CONTENT_ALGORITHM_CONTEXT_KEY, S3EC_PROVIDER_IDS, S3EC_V3_CONTENT_ALGORITHM_ID, s3ecMaterialDescriptionKeyId, s3ecWrappingBinding } from './s3ec-ids.js';
import { unwrapFirst } from './unwrap-first.js';

const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const AES_WRAP_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const LEGACY_PROVIDER_IDS: readonly string[] = [S3EC_PROVIDER_IDS.aesWrap, S3EC_PROVIDER_IDS.aesEcb];

/**
 * @example
 * ```ts
 * const options: S3ecAesKeyringOptions = { wrappingKey: aesKeyBytes, materialDescription: { purpose: 'backups' } };
 * ```
 */
export interface S3ecAesKeyringOptions {
  /** The AES key the S3EC keyring was built with: 16, 24 or 32 bytes. The keyring keeps its own copy. */
  readonly wrappingKey: Uint8Array;
  /**
   * The material description S3EC stores with each object (`x-amz-m`, V1/V2 `x-amz-matdesc`), `{}` by
   * default. It names the key: this keyring unwraps only data keys whose object carries this
   * description (compared as a map, not as text), and writes it with each object.
   */
  readonly materialDescription?: Readonly<Record<string, string>>;
  /**
   * Also unwrap the legacy wrappings `AESWrap` (RFC 3394) and `AES` (AES/ECB/PKCS5Padding, V1 objects),
   * as the official clients' `enableLegacyWrappingAlgorithms`. Never used to wrap. Default false.
   */
  readonly enableLegacyWrappingAlgorithms?: boolean;
}

/**
 * Reads and writes data keys wrapped the way the AWS S3 Encryption Client's `AesKeyring` wraps them
 * (`AES/GCM`: 12-byte IV ‖ AES-GCM ciphertext ‖ 16-byte tag, the AAD being UTF-8 `115` for V3 objects
 * and `AES/GCM/NoPadding` for V2), so that s3crypt reads S3EC objects and writes V3 objects the
 * official clients read with the same key.
 *
 * S3EC stores no key name: its key ids are the material description as sorted compact JSON
 * ({@link s3ecMaterialDescriptionKeyId}), under provider id `s3ec-aes-gcm` (legacy: `s3ec-aes-wrap`,
 * `s3ec-aes-ecb`). Requests carry the object's content algorithm as `aws:x-amz-cek-alg` in their
 * context (`s3ecDecryptionContext`, `s3ecV3WriteContext`).
 *
 * @example
 * ```ts
 * const keyring = new S3ecAesKeyring({ wrappingKey: await loadKeyFromSecretStore(), materialDescription: { app: 'billing' } });
 * ```
 */
export class S3ecAesKeyring implements Keyring {
  /** The key id envelopes name this key by: its material description as sorted compact JSON. */
  readonly keyId: string;
  readonly #wrappingKey: Buffer;
  readonly #legacy: boolean;

  constructor(options: S3ecAesKeyringOptions) {
    if (!(options?.wrappingKey instanceof Uint8Array) || ![16, 24, 32].includes(options.wrappingKey.length)) {
      throw new TypeError('S3ecAesKeyring: wrappingKey must be a 16-, 24- or 32-byte Uint8Array');
    }
    const materialDescription = options.materialDescription ?? {};
    if (typeof materialDescription !== 'object' || !Object.values(materialDescription).every((value) => typeof value === 'string')) {
      throw new TypeError('S3ecAesKeyring: materialDescription must map strings to strings');
    }
    this.keyId = s3ecMaterialDescriptionKeyId(materialDescription);
    this.#wrappingKey = Buffer.from(options.wrappingKey);
    this.#legacy = options.enableLegacyWrappingAlgorithms === true;
  }

  /**
   * Every `s3ec-aes-gcm` wrapped key (and the legacy provider ids when enabled), whatever material
   * description names it: the format authenticates no material description (it is a label the writer
   * chose), so it cannot say which key a reader may use; the key's own unwrap decides.
   */
  kekMatchers(): readonly KekMatcher[] {
    const providerIds = [S3EC_PROVIDER_IDS.aesGcm, ...(this.#legacy ? LEGACY_PROVIDER_IDS : [])];
    return providerIds.map((providerId) => ({ providerId, keyId: '{', match: 'prefix' as const }));
  }

  /** Wraps with `AES/GCM` for a V3 object (context `aws:x-amz-cek-alg` absent or `115`). */
  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    request.signal?.throwIfAborted();
    const contentAlgorithm = request.context[S3EC_CONTENT_ALGORITHM_CONTEXT_KEY] ?? S3EC_V3_CONTENT_ALGORITHM_ID;
    if (contentAlgorithm !== S3EC_V3_CONTENT_ALGORITHM_ID) throw new TypeError('S3ecAesKeyring: s3crypt writes S3EC objects in format V3 only (aws:x-amz-cek-alg 115)');
    if (request.dataKey !== undefined && request.dataKey.length !== DATA_KEY_LENGTH) throw new TypeError(`S3ecAesKeyring: dataKey must be ${DATA_KEY_LENGTH} bytes`);
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_LENGTH);
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv(this.#gcmName(), this.#wrappingKey, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(Buffer.from(S3EC_V3_CONTENT_ALGORITHM_ID, 'utf8'));
    const ciphertext = Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return { dataKey, encryptedDataKeys: [{ providerId: S3EC_PROVIDER_IDS.aesGcm, keyId: this.keyId, ciphertext }] };
  }

  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    request.signal?.throwIfAborted();
    const mine = request.encryptedDataKeys.filter((edk) => edk.providerId === S3EC_PROVIDER_IDS.aesGcm || LEGACY_PROVIDER_IDS.includes(edk.providerId));
    if (mine.length === 0) return undefined;
    s3ecWrappingBinding(request.context);
    return unwrapFirst(
      mine,
      async (edk) => this.#unwrap(edk, request),
      (error) =>
        error instanceof KeyringError
          ? error
          : new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the S3EC AES key could not unwrap the data key (wrong key, or a tampered wrapped key or content algorithm)'),
      request.signal,
    );
  }

  #unwrap(edk: EncryptedDataKey, request: DecryptRequest): Uint8Array {
    if (edk.providerId !== S3EC_PROVIDER_IDS.aesGcm && !this.#legacy) {
      throw new KeyringError('ERR_KEY_UNWRAP_FAILED', `the data key is wrapped with a legacy S3EC algorithm (${edk.providerId}); enable legacy wrapping algorithms to read it`);
    }
    const dataKey = this.#open(edk, request);
    if (dataKey.length !== DATA_KEY_LENGTH) {
      dataKey.fill(0);
      throw new RangeError('unwrapped key of the wrong length');
    }
    return dataKey;
  }

  #open(edk: EncryptedDataKey, request: DecryptRequest): Buffer {
    const wrapped = edk.ciphertext;
    switch (edk.providerId) {
      case S3EC_PROVIDER_IDS.aesGcm: {
        if (wrapped.length !== IV_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH) throw new RangeError('wrong wrapped key length');
        const decipher = createDecipheriv(this.#gcmName(), this.#wrappingKey, wrapped.subarray(0, IV_LENGTH), { authTagLength: TAG_LENGTH });
        decipher.setAAD(s3ecWrappingBinding(request.context));
        decipher.setAuthTag(wrapped.subarray(IV_LENGTH + DATA_KEY_LENGTH));
        return finish(decipher.update(wrapped.subarray(IV_LENGTH, IV_LENGTH + DATA_KEY_LENGTH)), () => decipher.final());
      }
      case S3EC_PROVIDER_IDS.aesWrap: {
        const decipher = createDecipheriv(`id-aes${this.#wrappingKey.length * 8}-wrap`, this.#wrappingKey, AES_WRAP_IV);
        return finish(decipher.update(wrapped), () => decipher.final());
      }
      default: {
        const decipher = createDecipheriv(`aes-${this.#wrappingKey.length * 8}-ecb`, this.#wrappingKey, null);
        return finish(decipher.update(wrapped), () => decipher.final());
      }
    }
  }

  #gcmName(): CipherGCMTypes {
    return `aes-${this.#wrappingKey.length * 8}-gcm` as CipherGCMTypes;
  }
}

/** The key from `update` and `final`, zeroed if `final` throws (a tag or padding that does not verify). */
function finish(head: Buffer, final: () => Buffer): Buffer {
  let tail: Buffer;
  try {
    tail = final();
  } catch (error) {
    head.fill(0);
    throw error;
  }
  const key = Buffer.concat([head, tail]);
  head.fill(0);
  tail.fill(0);
  return key;
}
