// How data keys of the AWS S3 Encryption Client (S3EC) appear to s3crypt keyrings: one provider id per
// S3EC wrapping algorithm, the material description as key id (S3EC names no key; its material
// description is what selects one), and the object's content algorithm in the request context under
// the name S3EC's KMS wrapping binds it with. The S3EC format module maps envelopes onto these; the
// S3EC keyrings read them. Nothing here touches key material.
import type { EncryptionContext } from './keyring.js';

/**
 * The `providerId` of each S3EC wrapping algorithm in s3crypt's {@link EncryptedDataKey}. `kms+context`
 * (and legacy `kms`) map onto `aws-kms`, which `@s3crypt/kms-aws`'s keyring handles.
 *
 * @example
 * ```ts
 * if (edk.providerId === S3EC_PROVIDER_IDS.aesGcm) console.log('S3EC AES/GCM wrapped key, material description', edk.keyId);
 * ```
 */
export const S3EC_PROVIDER_IDS = Object.freeze({
  /** `AES/GCM` (V3 `02`): 12-byte IV ‖ AES-GCM(data key) ‖ 16-byte tag. */
  aesGcm: 's3ec-aes-gcm',
  /** `AESWrap` (legacy): RFC 3394 key wrap. */
  aesWrap: 's3ec-aes-wrap',
  /** `AES` (legacy V1 objects without `x-amz-wrap-alg`): AES/ECB/PKCS5Padding of the data key. */
  aesEcb: 's3ec-aes-ecb',
  /** `RSA-OAEP-SHA1` (V3 `22`): OAEP(SHA-1, MGF1-SHA-1) of length ‖ data key ‖ content algorithm. */
  rsaOaepSha1: 's3ec-rsa-oaep-sha1',
  /** `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` (legacy): OAEP(SHA-256) of the bare data key. */
  rsaOaepSha256: 's3ec-rsa-oaep-sha256',
  /** `RSA` (legacy V1 objects without `x-amz-wrap-alg`): RSA PKCS#1 v1.5. No s3crypt keyring reads it. */
  rsaPkcs1: 's3ec-rsa-pkcs1',
  /** `kms+context` and `kms`: the AWS KMS keyring's own provider id. */
  awsKms: 'aws-kms',
});

/**
 * The context entry that carries an S3EC object's content algorithm: `115` (V3, key committing) or the
 * V1/V2 cipher name. S3EC binds it into the KMS encryption context (`kms+context`); s3crypt also puts
 * it in the request context of the raw S3EC keyrings, whose AES-GCM AAD and RSA plaintext depend on it.
 *
 * @example
 * ```ts
 * const context = { [S3EC_CONTENT_ALGORITHM_CONTEXT_KEY]: '115' };
 * ```
 */
export const S3EC_CONTENT_ALGORITHM_CONTEXT_KEY = 'aws:x-amz-cek-alg';

/** The value of {@link S3EC_CONTENT_ALGORITHM_CONTEXT_KEY} for V3 objects (suite 0x0073 in decimal). */
export const S3EC_V3_CONTENT_ALGORITHM_ID = '115';

/**
 * The key id s3crypt gives an S3EC raw-keyring data key: the material description as compact JSON
 * with its names sorted (`{}` when it is empty). Equal descriptions give equal ids, whatever order or
 * layout a writer used, so key policies can name them.
 *
 * @example
 * ```ts
 * s3ecMaterialDescriptionKeyId({ purpose: 'backup', app: 'x' }); // '{"app":"x","purpose":"backup"}'
 * ```
 */
export function s3ecMaterialDescriptionKeyId(materialDescription: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(materialDescription)
    .sort()
    .map((name) => [name, materialDescription[name]]);
  return JSON.stringify(Object.fromEntries(sorted));
}

/**
 * The bytes S3EC raw wrappings bind to the content algorithm (the AES/GCM wrap's AAD, the suffix of
 * the RSA-OAEP-SHA1 plaintext), as the Java client computes them: UTF-8 `115` for V3, and
 * `AES/GCM/NoPadding` for every non-committing content algorithm. Throws a TypeError without one.
 * @internal
 */
export function s3ecWrappingBinding(context: EncryptionContext): Buffer {
  const contentAlgorithm = context[S3EC_CONTENT_ALGORITHM_CONTEXT_KEY];
  if (typeof contentAlgorithm !== 'string') throw new TypeError(`an S3EC data key needs ${S3EC_CONTENT_ALGORITHM_CONTEXT_KEY} in the request context`);
  return Buffer.from(contentAlgorithm === S3EC_V3_CONTENT_ALGORITHM_ID ? S3EC_V3_CONTENT_ALGORITHM_ID : 'AES/GCM/NoPadding', 'utf8');
}
