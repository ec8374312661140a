// The V3 key schedule (s3-encryption/key-derivation.md): HKDF-SHA512 with the 32-byte data key as
// input keying material and the 28-byte message id as salt; expanded with info = suite id (0x00 0x73)
// ‖ "COMMITKEY" into the 28-byte key commitment and ‖ "DERIVEKEY" into the 32-byte content key.
import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { DecryptionError } from '../../errors.js';
import { DATA_KEY_LENGTH } from '../../keyrings/keyring.js';
import { S3EC_COMMITMENT_LENGTH, S3EC_MESSAGE_ID_LENGTH } from './metadata.js';

/** ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY's id as two big-endian bytes: prefix of both HKDF infos, and the content AAD. */
export const S3EC_V3_SUITE_ID_BYTES: Readonly<Uint8Array> = Uint8Array.of(0x00, 0x73);
const COMMIT_INFO = Buffer.concat([S3EC_V3_SUITE_ID_BYTES, Buffer.from('COMMITKEY', 'utf8')]);
const DERIVE_INFO = Buffer.concat([S3EC_V3_SUITE_ID_BYTES, Buffer.from('DERIVEKEY', 'utf8')]);

function checkInputs(dataKey: Uint8Array, messageId: Uint8Array): void {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_LENGTH) throw new TypeError(`an S3EC V3 data key is ${DATA_KEY_LENGTH} bytes`);
  if (!(messageId instanceof Uint8Array) || messageId.length !== S3EC_MESSAGE_ID_LENGTH) throw new TypeError(`an S3EC V3 message id is ${S3EC_MESSAGE_ID_LENGTH} bytes`);
}

/**
 * The key commitment of `dataKey` for `messageId` (28 bytes).
 *
 * @example
 * ```ts
 * metadata['x-amz-d'] = s3ecV3Commitment(dataKey, messageId).toString('base64');
 * ```
 */
export function s3ecV3Commitment(dataKey: Uint8Array, messageId: Uint8Array): Buffer {
  checkInputs(dataKey, messageId);
  return Buffer.from(hkdfSync('sha512', dataKey, messageId, COMMIT_INFO, S3EC_COMMITMENT_LENGTH));
}

/**
 * The AES-256-GCM content key of `dataKey` for `messageId` (32 bytes). Zero it after use. Readers
 * call {@link s3ecV3ContentKey} instead, which checks the commitment first.
 * @internal
 */
export function deriveS3ecV3ContentKey(dataKey: Uint8Array, messageId: Uint8Array): Buffer {
  checkInputs(dataKey, messageId);
  return Buffer.from(hkdfSync('sha512', dataKey, messageId, DERIVE_INFO, DATA_KEY_LENGTH));
}

/**
 * The content key of a V3 object, derived only once the commitment derived from `dataKey` equals the
 * stored one (compared in constant time, before the content key is derived, as the specification
 * orders); otherwise DecryptionError `ERR_KEY_COMMITMENT_MISMATCH`: the data key is not the one the
 * object was encrypted under (a wrapped key or instruction file swapped, or the message id altered).
 *
 * @example
 * ```ts
 * const contentKey = s3ecV3ContentKey(dataKey, envelope.messageId, envelope.keyCommitment);
 * ```
 */
export function s3ecV3ContentKey(dataKey: Uint8Array, messageId: Uint8Array, storedCommitment: Uint8Array): Buffer {
  const derived = s3ecV3Commitment(dataKey, messageId);
  const matches = storedCommitment.length === derived.length && timingSafeEqual(derived, storedCommitment);
  if (!matches) throw new DecryptionError('ERR_KEY_COMMITMENT_MISMATCH', 'the S3 Encryption Client key commitment does not match the data key');
  return deriveS3ecV3ContentKey(dataKey, messageId);
}
