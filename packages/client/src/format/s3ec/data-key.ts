// An S3EC envelope's wrapped key as s3crypt keyrings see it: an EncryptedDataKey and the request
// context to present with it. KMS wrappings become `aws-kms` keys that @s3crypt/kms-aws unwraps with
// the stored encryption context; raw wrappings become `s3ec-*` keys named by their material description.
import type { EncryptedDataKey, EncryptionContext } from '../../keyrings/keyring.js';
import {
  S3EC_CONTENT_ALGORITHM_CONTEXT_KEY,
  S3EC_PROVIDER_IDS,
  S3EC_V3_CONTENT_ALGORITHM_ID,
  s3ecMaterialDescriptionKeyId,
} from '../../keyrings/s3ec-ids.js';
import type { S3ecEnvelope, S3ecWrapAlgorithm } from './envelope.js';

const PROVIDER_IDS: Readonly<Record<S3ecWrapAlgorithm, string>> = {
  'AES/GCM': S3EC_PROVIDER_IDS.aesGcm,
  AESWrap: S3EC_PROVIDER_IDS.aesWrap,
  AES: S3EC_PROVIDER_IDS.aesEcb,
  'RSA-OAEP-SHA1': S3EC_PROVIDER_IDS.rsaOaepSha1,
  'RSA/ECB/OAEPWithSHA-256AndMGF1Padding': S3EC_PROVIDER_IDS.rsaOaepSha256,
  RSA: S3EC_PROVIDER_IDS.rsaPkcs1,
  'kms+context': S3EC_PROVIDER_IDS.awsKms,
  kms: S3EC_PROVIDER_IDS.awsKms,
};

/** The material description entry where S3EC V1 `kms` (and old V2 writers) name the KMS key. */
export const S3EC_KMS_KEY_ID_CONTEXT_KEY = 'kms_cmk_id';

/**
 * @example
 * ```ts
 * const options: S3ecDataKeyOptions = { kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-…' };
 * ```
 */
export interface S3ecDataKeyOptions {
  /**
   * For KMS wrappings: the key ARN to name. S3EC `kms+context` objects do not record their KMS key
   * (KMS finds it from the ciphertext); only V1 `kms` objects and some old writers store
   * `kms_cmk_id`. Pass the reader's trusted key ARN here; it takes precedence over `kms_cmk_id`.
   */
  readonly kmsKeyId?: string;
}

/**
 * The envelope's wrapped key as an s3crypt {@link EncryptedDataKey}:
 *
 * - `kms+context`, `kms` → `{ providerId: 'aws-kms', keyId, ciphertext }`, where `keyId` is
 *   `options.kmsKeyId`, else the stored `kms_cmk_id`, else `''` (which no key policy trusts and no
 *   AWS KMS keyring claims: the caller must supply the key ARN).
 * - raw wrappings → `{ providerId: S3EC_PROVIDER_IDS.…, keyId: s3ecMaterialDescriptionKeyId(materialDescription) }`.
 *
 * Present it with {@link s3ecDecryptionContext}.
 *
 * @example
 * ```ts
 * const edk = s3ecEncryptedDataKey(envelope, { kmsKeyId: trustedKeyArn });
 * const dataKey = await keyring.onDecrypt({ context: s3ecDecryptionContext(envelope), encryptedDataKeys: [edk] });
 * ```
 */
export function s3ecEncryptedDataKey(envelope: S3ecEnvelope, options: S3ecDataKeyOptions = {}): EncryptedDataKey {
  const providerId = PROVIDER_IDS[envelope.wrapAlgorithm];
  const keyId =
    providerId === S3EC_PROVIDER_IDS.awsKms
      ? (options.kmsKeyId ?? envelope.encryptionContext[S3EC_KMS_KEY_ID_CONTEXT_KEY] ?? '')
      : s3ecMaterialDescriptionKeyId(envelope.materialDescription);
  return { providerId, keyId, ciphertext: envelope.wrappedKey };
}

/**
 * The context to present with {@link s3ecEncryptedDataKey}'s key: for KMS wrappings the encryption
 * context exactly as stored (KMS Decrypt needs it byte for byte, `aws:x-amz-cek-alg` and any
 * `kms_cmk_id` included); for raw wrappings `{ 'aws:x-amz-cek-alg': <content algorithm> }`
 * (`115` for V3, else the V1/V2 cipher name), which the S3EC keyrings bind the key to.
 *
 * @example
 * ```ts
 * s3ecDecryptionContext(v3AesEnvelope); // { 'aws:x-amz-cek-alg': '115' }
 * ```
 */
export function s3ecDecryptionContext(envelope: S3ecEnvelope): EncryptionContext {
  if (PROVIDER_IDS[envelope.wrapAlgorithm] === S3EC_PROVIDER_IDS.awsKms) return envelope.encryptionContext;
  return { [S3EC_CONTENT_ALGORITHM_CONTEXT_KEY]: envelope.formatVersion === 3 ? S3EC_V3_CONTENT_ALGORITHM_ID : envelope.contentAlgorithm };
}

/**
 * Whether a reader's expected encryption context is the one the object was written with, by the rule
 * of the official KMS keyrings: the stored context without its reserved `aws:x-amz-cek-alg` and
 * `kms_cmk_id` must equal `expected` exactly (an empty expectation matches only an object written
 * without a caller context). Raw wrappings store no context: only `{}` matches them.
 *
 * @example
 * ```ts
 * if (!s3ecContextMatches(envelope, { tenant: 'acme' })) throw new Error('not written for this tenant');
 * ```
 */
export function s3ecContextMatches(envelope: S3ecEnvelope, expected: EncryptionContext): boolean {
  const stored = Object.entries(envelope.encryptionContext).filter(([name]) => name !== S3EC_CONTENT_ALGORITHM_CONTEXT_KEY && name !== S3EC_KMS_KEY_ID_CONTEXT_KEY);
  const wanted = Object.entries(expected);
  return stored.length === wanted.length && stored.every(([name, value]) => Object.hasOwn(expected, name) && expected[name] === value);
}
