// A branch key version as stored in the key store: JSON holding the protector's encrypted data keys
// of the 32-byte branch key. Nothing in it is trusted: the names in it must equal the names the
// reader asked for, and the one free field (createdAt) is bound into the protector's context, so an
// edited, replaced or moved object fails to unwrap.
import type { EncryptedDataKey, EncryptionContext } from '@s3crypt/client';

export const OBJECT_KIND = 's3crypt-branch-key';
export const OBJECT_LAYOUT = 1;
/** Larger objects are refused unread: a branch key object is a few hundred bytes to a few KiB. */
export const MAX_OBJECT_BYTES = 64 * 1024;
const MAX_EDKS = 8;
const MAX_CIPHERTEXT_CHARS = 16 * 1024;
const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PROVIDER_ID = /^[\x21-\x7e]{1,255}$/;
const FIELDS = ['kind', 'layout', 'keyStore', 'branchKeyId', 'version', 'createdAt', 'encryptedDataKeys'];

/** Which branch key version an object must be: the reader's expectation, never the object's claim. */
export interface BranchKeyName {
  readonly keyStore: string;
  readonly branchKeyId: string;
  readonly version: number;
}

export interface StoredBranchKey {
  readonly createdAt: string;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
}

/**
 * The context the protector wraps a branch key version under. `s3crypt:purpose` keeps it apart from
 * every object's context (which always has `s3crypt:bucket`), so neither can stand in for the other.
 */
export function branchKeyContext(name: BranchKeyName, createdAt: string): EncryptionContext {
  return {
    's3crypt:purpose': 'branch-key',
    's3crypt:key-store': name.keyStore,
    's3crypt:branch-key-id': name.branchKeyId,
    's3crypt:branch-key-version': String(name.version),
    's3crypt:branch-key-created': createdAt,
  };
}

export function encodeBranchKeyObject(name: BranchKeyName, stored: StoredBranchKey): string {
  return JSON.stringify({
    kind: OBJECT_KIND,
    layout: OBJECT_LAYOUT,
    keyStore: name.keyStore,
    branchKeyId: name.branchKeyId,
    version: name.version,
    createdAt: stored.createdAt,
    encryptedDataKeys: stored.encryptedDataKeys.map((edk) => ({ providerId: edk.providerId, keyId: edk.keyId, ciphertext: Buffer.from(edk.ciphertext).toString('base64') })),
  });
}

/** The stored branch key, or a short description of what is wrong with the object. */
export function parseBranchKeyObject(bytes: Uint8Array, name: BranchKeyName): StoredBranchKey | string {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return 'not UTF-8 JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length !== FIELDS.length || !FIELDS.every((field) => Object.hasOwn(object, field))) return 'unexpected fields';
  if (object.kind !== OBJECT_KIND || object.layout !== OBJECT_LAYOUT) return 'not a layout 1 branch key object';
  if (object.keyStore !== name.keyStore || object.branchKeyId !== name.branchKeyId || object.version !== name.version) {
    return 'it names another key store, branch key or version';
  }
  if (typeof object.createdAt !== 'string' || !CREATED_AT.test(object.createdAt)) return 'createdAt is not an ISO time';
  const edks = object.encryptedDataKeys;
  if (!Array.isArray(edks) || edks.length === 0 || edks.length > MAX_EDKS) return `not 1 to ${MAX_EDKS} encrypted keys`;
  const encryptedDataKeys: EncryptedDataKey[] = [];
  for (const edk of edks as unknown[]) {
    if (typeof edk !== 'object' || edk === null || Object.keys(edk).sort().join() !== 'ciphertext,keyId,providerId') return 'an encrypted key is malformed';
    const { providerId, keyId, ciphertext } = edk as Record<string, unknown>;
    const valid =
      typeof providerId === 'string' && PROVIDER_ID.test(providerId) &&
      typeof keyId === 'string' && keyId.length > 0 && keyId.length <= 2048 &&
      typeof ciphertext === 'string' && ciphertext.length > 0 && ciphertext.length <= MAX_CIPHERTEXT_CHARS && BASE64.test(ciphertext);
    if (!valid) return 'an encrypted key is malformed';
    encryptedDataKeys.push({ providerId, keyId, ciphertext: new Uint8Array(Buffer.from(ciphertext, 'base64')) });
  }
  return { createdAt: object.createdAt, encryptedDataKeys };
}
