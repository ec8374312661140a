// Writing S3EC V3 objects as the official v4 clients do (Java ContentMetadataEncodingStrategy, Python
// pipelines): a fresh 28-byte message id, the key commitment, one AES-256-GCM stream under the derived
// key with the tag appended, and the compressed metadata names.
import { createCipheriv, randomBytes, type CipherGCM } from 'node:crypto';
import type { EncryptedDataKey, EncryptionContext } from '../../keyrings/keyring.js';
import { S3EC_CONTENT_ALGORITHM_CONTEXT_KEY, S3EC_PROVIDER_IDS, S3EC_V3_CONTENT_ALGORITHM_ID } from '../../keyrings/s3ec-ids.js';
import { S3EC_V3_IV } from './content-cipher.js';
import { S3EC_KMS_KEY_ID_CONTEXT_KEY } from './data-key.js';
import { deriveS3ecV3ContentKey, s3ecV3Commitment, S3EC_V3_SUITE_ID_BYTES } from './key-derivation.js';
import { S3EC_COMMITMENT_LENGTH, S3EC_GCM_TAG_LENGTH, S3EC_MESSAGE_ID_LENGTH } from './metadata.js';

const WRAP_CODES: Readonly<Record<string, string>> = {
  [S3EC_PROVIDER_IDS.aesGcm]: '02',
  [S3EC_PROVIDER_IDS.awsKms]: '12',
  [S3EC_PROVIDER_IDS.rsaOaepSha1]: '22',
};

/**
 * A V3 object's content encryption in progress.
 *
 * @example
 * ```ts
 * const { cipher, messageId, keyCommitment } = s3ecV3Encryptor(dataKey);
 * const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
 * ```
 */
export interface S3ecV3Encryptor {
  /** `x-amz-i`: 28 random bytes. */
  readonly messageId: Buffer;
  /** `x-amz-d`: the commitment of the data key for this message id. */
  readonly keyCommitment: Buffer;
  /**
   * AES-256-GCM under the derived key, IV of twelve 0x01 bytes, AAD `0x00 0x73` already set: update it
   * with every plaintext byte in order, then `final()`, then append `getAuthTag()` (16 bytes).
   */
  readonly cipher: CipherGCM;
}

/**
 * Starts encrypting a V3 object under `dataKey` (32 bytes; not retained: the derived key is zeroed
 * once the cipher holds it). `messageId` is for known-answer tests only: a message id must never be
 * used twice with one data key.
 *
 * @example
 * ```ts
 * const encryption = s3ecV3Encryptor(dataKey);
 * ```
 */
export function s3ecV3Encryptor(dataKey: Uint8Array, messageId: Uint8Array = randomBytes(S3EC_MESSAGE_ID_LENGTH)): S3ecV3Encryptor {
  if (messageId.length === S3EC_MESSAGE_ID_LENGTH && messageId.every((byte) => byte === 0)) throw new TypeError('an S3EC message id of zeros is not random');
  const keyCommitment = s3ecV3Commitment(dataKey, messageId);
  const contentKey = deriveS3ecV3ContentKey(dataKey, messageId);
  try {
    const cipher = createCipheriv('aes-256-gcm', contentKey, S3EC_V3_IV, { authTagLength: S3EC_GCM_TAG_LENGTH });
    cipher.setAAD(S3EC_V3_SUITE_ID_BYTES);
    return { messageId: Buffer.from(messageId), keyCommitment, cipher };
  } finally {
    contentKey.fill(0);
  }
}

/**
 * The encryption context of a V3 write: the caller's entries plus `aws:x-amz-cek-alg: 115`, as the
 * official KMS keyrings bind it. Pass it to the keyring's `onEncrypt` (KMS binds all of it; the S3EC
 * raw keyrings read the content algorithm and accept no caller entries). Caller entries must not use
 * the reserved names `aws:x-amz-cek-alg` and `kms_cmk_id` (TypeError).
 *
 * @example
 * ```ts
 * const context = s3ecV3WriteContext({ tenant: 'acme' }); // { tenant: 'acme', 'aws:x-amz-cek-alg': '115' }
 * ```
 */
export function s3ecV3WriteContext(callerContext: EncryptionContext = {}): EncryptionContext {
  for (const reserved of [S3EC_CONTENT_ALGORITHM_CONTEXT_KEY, S3EC_KMS_KEY_ID_CONTEXT_KEY]) {
    if (Object.hasOwn(callerContext, reserved)) throw new TypeError(`${reserved} is reserved by the S3 Encryption Client format`);
  }
  return { ...callerContext, [S3EC_CONTENT_ALGORITHM_CONTEXT_KEY]: S3EC_V3_CONTENT_ALGORITHM_ID };
}

/**
 * @example
 * ```ts
 * const input: S3ecV3MetadataInput = { messageId, keyCommitment, encryptedDataKey: edk, context, instructionFile: false };
 * ```
 */
export interface S3ecV3MetadataInput {
  readonly messageId: Uint8Array;
  readonly keyCommitment: Uint8Array;
  /** The keyring's wrapped key: `aws-kms`, `s3ec-aes-gcm` or `s3ec-rsa-oaep-sha1` (the only V3 wrappings). */
  readonly encryptedDataKey: EncryptedDataKey;
  /** The context the keyring was given: {@link s3ecV3WriteContext}'s result. */
  readonly context: EncryptionContext;
  /** Put `x-amz-3`, `x-amz-w`, `x-amz-m`/`x-amz-t` in an instruction file instead of the object metadata. */
  readonly instructionFile?: boolean;
}

/**
 * @example
 * ```ts
 * const { metadata, instructionFile }: S3ecV3Metadata = s3ecV3Metadata(input);
 * ```
 */
export interface S3ecV3Metadata {
  /** User metadata for the object (names without `x-amz-meta-`). */
  readonly metadata: Record<string, string>;
  /** The body of `<key>.instruction` (compact JSON), when asked for; store it with metadata `x-amz-crypto-instr-file: ''`. */
  readonly instructionFile?: string;
}

/**
 * The content metadata of a V3 object, named and encoded as the official v4 clients write it:
 * `x-amz-c: 115`, `x-amz-d`, `x-amz-i` (base64) always on the object; `x-amz-3` (base64 wrapped key),
 * `x-amz-w` (`02`, `12`, `22`), and `x-amz-t` (KMS: the encryption context as JSON) or `x-amz-m`
 * (raw: the material description as JSON, omitted when empty) on the object or in the instruction
 * file. Throws a TypeError for a wrapping V3 cannot name, a context without `aws:x-amz-cek-alg: 115`,
 * caller context with a raw wrapping (S3EC would not store it), or non-ASCII text (S3 would
 * re-encode it in a way readers must undo).
 *
 * @example
 * ```ts
 * const { metadata } = s3ecV3Metadata({ messageId, keyCommitment, encryptedDataKey: edk, context });
 * await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, Metadata: metadata }));
 * ```
 */
export function s3ecV3Metadata(input: S3ecV3MetadataInput): S3ecV3Metadata {
  const { messageId, keyCommitment, encryptedDataKey: edk, context } = input;
  if (messageId.length !== S3EC_MESSAGE_ID_LENGTH || keyCommitment.length !== S3EC_COMMITMENT_LENGTH) throw new TypeError('an S3EC V3 message id and key commitment are 28 bytes each');
  const wrapCode = WRAP_CODES[edk.providerId];
  if (wrapCode === undefined) throw new TypeError(`S3EC V3 cannot name a data key wrapped by ${JSON.stringify(edk.providerId)}`);
  if (context[S3EC_CONTENT_ALGORITHM_CONTEXT_KEY] !== S3EC_V3_CONTENT_ALGORITHM_ID) throw new TypeError(`the context of an S3EC V3 write binds ${S3EC_CONTENT_ALGORITHM_CONTEXT_KEY}: 115`);
  const keyMetadata: Record<string, string> = { 'x-amz-3': Buffer.from(edk.ciphertext).toString('base64'), 'x-amz-w': wrapCode };
  if (edk.providerId === S3EC_PROVIDER_IDS.awsKms) {
    keyMetadata['x-amz-t'] = asciiJson(context, 'the encryption context');
  } else {
    if (Object.keys(context).length !== 1) throw new TypeError('S3EC raw keyrings store no encryption context: describe the key with its material description instead');
    const materialDescription = asciiJson(parseMaterialDescription(edk.keyId), 'the material description');
    if (materialDescription !== '{}') keyMetadata['x-amz-m'] = materialDescription;
  }
  const contentMetadata = { 'x-amz-c': S3EC_V3_CONTENT_ALGORITHM_ID, 'x-amz-d': Buffer.from(keyCommitment).toString('base64'), 'x-amz-i': Buffer.from(messageId).toString('base64') };
  if (input.instructionFile) return { metadata: contentMetadata, instructionFile: JSON.stringify(keyMetadata) };
  return { metadata: { ...keyMetadata, ...contentMetadata } };
}

function parseMaterialDescription(keyId: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(keyId);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((value) => typeof value === 'string')) {
    throw new TypeError('an S3EC raw data key is named by its material description (a JSON object of strings)');
  }
  return parsed as Record<string, string>;
}

/** Compact JSON with sorted names, refused unless US-ASCII. */
function asciiJson(map: EncryptionContext, what: string): string {
  const json = JSON.stringify(Object.fromEntries(Object.keys(map).sort().map((name) => [name, map[name]])));
  if (!/^[\x20-\x7e]*$/.test(json)) throw new TypeError(`${what} of an S3EC object must be US-ASCII (S3 re-encodes other text in metadata)`);
  return json;
}
