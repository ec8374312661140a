// How an S3EC object's body decrypts once its data key is known. The body is one cipher stream over
// the whole object: AES-256-GCM with the 16-byte tag as its last stored bytes (V2: data key, stored IV,
// no AAD; V3: derived key, IV of twelve 0x01 bytes, AAD 0x00 0x73), or AES-256-CBC with PKCS#5 padding
// (V1 and legacy V2: data key, stored IV).
import { createDecipheriv, type Decipher, type DecipherGCM } from 'node:crypto';
import { DATA_KEY_LENGTH } from '../../keyrings/keyring.js';
import type { S3ecEnvelope } from './envelope.js';
import { s3ecV3ContentKey, S3EC_V3_SUITE_ID_BYTES } from './key-derivation.js';
import { S3EC_GCM_TAG_LENGTH } from './metadata.js';

/** V3's fixed content IV (key-derivation.md): the derived key is unique per message id, so one IV serves. */
export const S3EC_V3_IV: Readonly<Uint8Array> = new Uint8Array(12).fill(0x01);

/**
 * Everything needed to decrypt an S3EC body with any AES implementation. GCM: the tag is the last
 * `tagLength` bytes of the stored object, and no plaintext may be released before it verifies
 * (unless the caller has chosen delayed authentication). CBC is unauthenticated (legacy).
 *
 * @example
 * ```ts
 * const params = s3ecContentCipher(envelope, dataKey);
 * try {
 *   const decipher = createDecipheriv(params.algorithm, params.key, params.iv);
 * } finally {
 *   params.key.fill(0);
 * }
 * ```
 */
export interface S3ecContentCipher {
  readonly mode: 'gcm' | 'cbc';
  /** The node:crypto cipher name. */
  readonly algorithm: 'aes-256-gcm' | 'aes-256-cbc';
  /** The content key: a copy the caller owns and zeroes (V3: derived; V1/V2: the data key itself). */
  readonly key: Buffer;
  readonly iv: Buffer;
  /** GCM AAD: `0x00 0x73` for V3; absent for V2 (none) and CBC. */
  readonly aad?: Buffer;
  /** Bytes of GCM tag at the end of the stored body; 0 for CBC. */
  readonly tagLength: number;
}

/**
 * The content decryption parameters of `envelope` under `dataKey` (32 bytes; not retained). For V3
 * the key commitment is checked first: DecryptionError `ERR_KEY_COMMITMENT_MISMATCH` before any key
 * is derived or byte decrypted.
 *
 * @example
 * ```ts
 * const { algorithm, key, iv, aad, tagLength } = s3ecContentCipher(envelope, dataKey);
 * ```
 */
export function s3ecContentCipher(envelope: S3ecEnvelope, dataKey: Uint8Array): S3ecContentCipher {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_LENGTH) throw new TypeError(`an S3EC data key is ${DATA_KEY_LENGTH} bytes`);
  if (envelope.formatVersion === 3) {
    const key = s3ecV3ContentKey(dataKey, envelope.messageId, envelope.keyCommitment);
    return { mode: 'gcm', algorithm: 'aes-256-gcm', key, iv: Buffer.from(S3EC_V3_IV), aad: Buffer.from(S3EC_V3_SUITE_ID_BYTES), tagLength: S3EC_GCM_TAG_LENGTH };
  }
  const key = Buffer.from(dataKey);
  const iv = Buffer.from(envelope.iv);
  return envelope.contentAlgorithm === 'AES/GCM/NoPadding'
    ? { mode: 'gcm', algorithm: 'aes-256-gcm', key, iv, tagLength: S3EC_GCM_TAG_LENGTH }
    : { mode: 'cbc', algorithm: 'aes-256-cbc', key, iv, tagLength: 0 };
}

/**
 * A node:crypto Decipher for the body of `envelope`, its key zeroed once the cipher holds it. For GCM
 * (`DecipherGCM`) feed every stored byte but the last 16 to `update`, then `setAuthTag(last16)` and
 * `final()`, which throws if the object was altered. CBC strips the padding in `final()`.
 *
 * @example
 * ```ts
 * const decipher = createS3ecDecipher(envelope, dataKey) as DecipherGCM;
 * const head = decipher.update(stored.subarray(0, -16));
 * decipher.setAuthTag(stored.subarray(-16));
 * const plaintext = Buffer.concat([head, decipher.final()]);
 * ```
 */
export function createS3ecDecipher(envelope: S3ecEnvelope, dataKey: Uint8Array): DecipherGCM | Decipher {
  const params = s3ecContentCipher(envelope, dataKey);
  try {
    if (params.mode === 'cbc') return createDecipheriv('aes-256-cbc', params.key, params.iv);
    const decipher = createDecipheriv('aes-256-gcm', params.key, params.iv, { authTagLength: params.tagLength });
    if (params.aad) decipher.setAAD(params.aad);
    return decipher;
  } finally {
    params.key.fill(0);
  }
}
