import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { KeyringError } from '../errors.js';
import { DATA_KEY_LENGTH, type DecryptRequest, type EncryptedDataKey, type EncryptRequest, type EncryptResult, type KekMatcher, type Keyring } from './keyring.js';
import { oaepSha256Mgf1Sha1Decrypt } from './oaep-sha256-mgf1-sha1.js';
import { S3EC_CONTENT_ALGORITHM_CONTEXT_KEY, S3EC_PROVIDER_IDS, S3EC_V3_CONTENT_ALGORITHM_ID, s3ecMaterialDescriptionKeyId, s3ecWrappingBinding } from './s3ec-ids.js';
import { unwrapFirst } from './unwrap-first.js';

/**
 * @example
 * ```ts
 * const options: S3ecRsaKeyringOptions = { publicKey: readFileSync('s3ec.pub.pem', 'utf8'), privateKey: readFileSync('s3ec.pem', 'utf8') };
 * ```
 */
export interface S3ecRsaKeyringOptions {
  /** PEM (SPKI or PKCS#1) public key, at least 2048 bits: enough to write. Derived from `privateKey` when absent. */
  readonly publicKey?: string | KeyObject;
  /** PEM private key: only readers need it. */
  readonly privateKey?: string | KeyObject;
  /** As {@link S3ecAesKeyringOptions.materialDescription}: names the key pair, written with each object. */
  readonly materialDescription?: Readonly<Record<string, string>>;
  /**
   * Also unwrap the legacy wrapping `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` (OAEP with SHA-256, MGF1
   * with SHA-1 as Java's default provider pairs them, or SHA-256). Never used to wrap. Default false.
   * The V1 `RSA` wrapping (PKCS#1 v1.5) is not supported.
   */
  readonly enableLegacyWrappingAlgorithms?: boolean;
}

/**
 * Reads and writes data keys wrapped the way the AWS S3 Encryption Client's `RsaKeyring` wraps them
 * (`RSA-OAEP-SHA1`: OAEP with SHA-1 and MGF1-SHA-1 of one length byte ‖ data key ‖ UTF-8 content
 * algorithm, `115` for V3 objects and `AES/GCM/NoPadding` for V2), checking the content algorithm
 * after unwrapping in constant time.
 *
 * Key ids are the material description as sorted compact JSON, provider id `s3ec-rsa-oaep-sha1`
 * (legacy: `s3ec-rsa-oaep-sha256`); its KEK matchers are marked `publicKey`, since anyone holding the
 * public key can wrap data keys for it.
 *
 * @example
 * ```ts
 * const reader = new S3ecRsaKeyring({ privateKey: readFileSync('s3ec.pem', 'utf8'), materialDescription: { app: 'ingest' } });
 * const writer = new S3ecRsaKeyring({ publicKey: readFileSync('s3ec.pub.pem', 'utf8'), materialDescription: { app: 'ingest' } });
 * ```
 */
export class S3ecRsaKeyring implements Keyring {
  /** The key id envelopes name this key pair by: its material description as sorted compact JSON. */
  readonly keyId: string;
  readonly #publicKey: KeyObject;
  readonly #privateKey: KeyObject | undefined;
  readonly #legacy: boolean;

  constructor(options: S3ecRsaKeyringOptions) {
    if (options?.publicKey === undefined && options?.privateKey === undefined) throw new TypeError('S3ecRsaKeyring: give a publicKey, a privateKey, or both');
    this.#privateKey = options.privateKey === undefined ? undefined : typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
    if (this.#privateKey && this.#privateKey.type !== 'private') throw new TypeError('S3ecRsaKeyring: privateKey must be a private key');
    const publicSource = options.publicKey ?? (this.#privateKey as KeyObject);
    // createPublicKey accepts PEM or a private KeyObject, but refuses a public KeyObject on Node 20.
    this.#publicKey = typeof publicSource !== 'string' && publicSource.type === 'public' ? publicSource : createPublicKey(publicSource);
    if (this.#publicKey.asymmetricKeyType !== 'rsa') throw new TypeError('S3ecRsaKeyring: the key must be an RSA key');
    if ((this.#publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new TypeError('S3ecRsaKeyring: RSA keys must be at least 2048 bits');
    const materialDescription = options.materialDescription ?? {};
    if (typeof materialDescription !== 'object' || !Object.values(materialDescription).every((value) => typeof value === 'string')) {
      throw new TypeError('S3ecRsaKeyring: materialDescription must map strings to strings');
    }
    this.keyId = s3ecMaterialDescriptionKeyId(materialDescription);
    this.#legacy = options.enableLegacyWrappingAlgorithms === true;
  }

  /** True when this keyring holds the private key and can therefore decrypt. */
  get canDecrypt(): boolean {
    return this.#privateKey !== undefined;
  }

  /** The key pair as envelopes name it: `s3ec-rsa-oaep-sha1` / {@link keyId} (and the legacy id when enabled), public-key KEKs. */
  kekMatchers(): readonly KekMatcher[] {
    const providerIds = [S3EC_PROVIDER_IDS.rsaOaepSha1, ...(this.#legacy ? [S3EC_PROVIDER_IDS.rsaOaepSha256] : [])];
    // Any material description: the format does not authenticate it (see S3ecAesKeyring.kekMatchers).
    return providerIds.map((providerId) => ({ providerId, keyId: '{', match: 'prefix' as const, publicKey: true }));
  }

  /** Wraps with `RSA-OAEP-SHA1` for a V3 object (context `aws:x-amz-cek-alg` absent or `115`). */
  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    request.signal?.throwIfAborted();
    const contentAlgorithm = request.context[S3EC_CONTENT_ALGORITHM_CONTEXT_KEY] ?? S3EC_V3_CONTENT_ALGORITHM_ID;
    if (contentAlgorithm !== S3EC_V3_CONTENT_ALGORITHM_ID) throw new TypeError('S3ecRsaKeyring: s3crypt writes S3EC objects in format V3 only (aws:x-amz-cek-alg 115)');
    if (request.dataKey !== undefined && request.dataKey.length !== DATA_KEY_LENGTH) throw new TypeError(`S3ecRsaKeyring: dataKey must be ${DATA_KEY_LENGTH} bytes`);
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_LENGTH);
    const pseudoKey = Buffer.concat([Uint8Array.of(DATA_KEY_LENGTH), dataKey, Buffer.from(S3EC_V3_CONTENT_ALGORITHM_ID, 'utf8')]);
    try {
      const ciphertext = publicEncrypt({ key: this.#publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, pseudoKey);
      return { dataKey, encryptedDataKeys: [{ providerId: S3EC_PROVIDER_IDS.rsaOaepSha1, keyId: this.keyId, ciphertext }] };
    } finally {
      pseudoKey.fill(0);
    }
  }

  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    request.signal?.throwIfAborted();
    const mine = request.encryptedDataKeys.filter(
      (edk) => edk.providerId === S3EC_PROVIDER_IDS.rsaOaepSha1 || edk.providerId === S3EC_PROVIDER_IDS.rsaOaepSha256,
    );
    if (mine.length === 0) return undefined;
    const privateKey = this.#privateKey;
    if (!privateKey) throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the S3EC RSA keyring holds only the public key and cannot decrypt');
    const binding = s3ecWrappingBinding(request.context);
    return unwrapFirst(
      mine,
      async (edk) => this.#unwrap(privateKey, edk, binding),
      (error) =>
        error instanceof KeyringError
          ? error
          : new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the S3EC RSA key could not unwrap the data key (wrong key, or a tampered wrapped key or content algorithm)'),
      request.signal,
    );
  }

  #unwrap(privateKey: KeyObject, edk: EncryptedDataKey, binding: Buffer): Uint8Array {
    if (edk.providerId === S3EC_PROVIDER_IDS.rsaOaepSha1) return unwrapPseudoKey(privateKey, edk.ciphertext, binding);
    if (!this.#legacy) {
      throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the data key is wrapped with a legacy S3EC algorithm (RSA/ECB/OAEPWithSHA-256AndMGF1Padding); enable legacy wrapping algorithms to read it');
    }
    const dataKey = unwrapLegacyOaep(privateKey, edk.ciphertext);
    if (dataKey.length === DATA_KEY_LENGTH) return dataKey;
    dataKey.fill(0);
    throw new RangeError('unwrapped key of the wrong length');
  }
}

/** OAEP-SHA1-decrypts `length ‖ key ‖ content algorithm`; the length and algorithm must be what this object needs. */
function unwrapPseudoKey(privateKey: KeyObject, ciphertext: Uint8Array, binding: Buffer): Buffer {
  const pseudoKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ciphertext);
  try {
    const end = 1 + DATA_KEY_LENGTH;
    const ok = pseudoKey.length === end + binding.length && pseudoKey[0] === DATA_KEY_LENGTH && timingSafeEqual(pseudoKey.subarray(end), binding);
    if (!ok) throw new Error('S3EC RSA pseudo data key mismatch');
    return Buffer.from(pseudoKey.subarray(1, end));
  } finally {
    pseudoKey.fill(0);
  }
}

/** Java's SunJCE pairs OAEPWithSHA-256 with MGF1-SHA-1; other providers (BouncyCastle) with MGF1-SHA-256. */
function unwrapLegacyOaep(privateKey: KeyObject, ciphertext: Uint8Array): Buffer {
  try {
    return oaepSha256Mgf1Sha1Decrypt(privateKey, ciphertext);
  } catch {
    return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, ciphertext);
  }
}
