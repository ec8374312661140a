// The per-object step of the hierarchical keyring: derive a one-off wrapping key from a branch key
// and a fresh salt, and AES-256-GCM the data key under it with the object's context as AAD. The
// byte layout is specified in the package README ("Wrapped data key layout"); keep the two in step.
import { hkdfSync, randomBytes } from 'node:crypto';
import { DATA_KEY_LENGTH, openDataKey, sealDataKey, serializeContext, type EncryptionContext } from '@s3crypt/client';

export const LAYOUT_VERSION = 1;
export const SALT_LENGTH = 16;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const BRANCH_KEY_LENGTH = 32;
/** 1 + 16 + 12 + 32 + 16 = 77 bytes. */
export const WRAPPED_LENGTH = 1 + SALT_LENGTH + IV_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH;
/** HKDF `info`: separates these wrapping keys from anything else ever derived from a branch key. */
export const DERIVATION_LABEL = 's3crypt-hierarchy/v1 wrapping key';

/** HKDF-SHA256(branch key, salt, label) → a 32-byte wrapping key. The caller zeroes it. */
export function deriveWrappingKey(branchKey: Uint8Array, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', branchKey, salt, DERIVATION_LABEL, 32));
}

/** AAD: the layout version, the EDK's key id (u16 length + UTF-8), and the canonical context. */
export function wrapAad(keyId: string, context: EncryptionContext): Buffer {
  const id = Buffer.from(keyId, 'utf8');
  const head = Buffer.alloc(3);
  head.writeUInt8(LAYOUT_VERSION, 0);
  head.writeUInt16BE(id.length, 1);
  return Buffer.concat([head, id, serializeContext(context)]);
}

/** Wraps `dataKey` under a key derived from `branchKey` with a fresh salt: the 77-byte layout. */
export function wrapDataKey(branchKey: Uint8Array, dataKey: Uint8Array, keyId: string, context: EncryptionContext): Uint8Array {
  const salt = randomBytes(SALT_LENGTH);
  const iv = randomBytes(IV_LENGTH);
  const wrappingKey = deriveWrappingKey(branchKey, salt);
  try {
    return new Uint8Array(Buffer.concat([Buffer.of(LAYOUT_VERSION), salt, iv, sealDataKey(wrappingKey, iv, dataKey, wrapAad(keyId, context))]));
  } finally {
    wrappingKey.fill(0);
  }
}

/**
 * The data key in `wrapped`, or a throw (`RangeError` for a wrong layout, the cipher's error for a
 * wrong key, context or tampered bytes). The caller maps every throw to one fixed typed error.
 */
export function unwrapDataKey(branchKey: Uint8Array, wrapped: Uint8Array, keyId: string, context: EncryptionContext): Buffer {
  if (wrapped.length !== WRAPPED_LENGTH || wrapped[0] !== LAYOUT_VERSION) throw new RangeError('not a version 1 hierarchical wrapped key');
  const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
  let offset = 1;
  const take = (length: number) => bytes.subarray(offset, (offset += length));
  const salt = take(SALT_LENGTH);
  const iv = take(IV_LENGTH);
  const sealed = take(DATA_KEY_LENGTH + TAG_LENGTH);
  const wrappingKey = deriveWrappingKey(branchKey, salt);
  try {
    return openDataKey(wrappingKey, iv, sealed, wrapAad(keyId, context));
  } finally {
    wrappingKey.fill(0);
  }
}
