// A caller's own 256-bit key (as SSE-C users pass with each request) used as a key-encryption key.
// The envelope records only a salted, keyed fingerprint of it: unlinkable across objects, useless
// without the key, and checked before any unwrap so a wrong key fails with its own code
// (docs/FORMAT.md §10).
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { openDataKey, sealDataKey } from './data-key-cipher.js';
import { CustomerKeyError, KeyringError, S3CryptError } from '../errors.js';
import { serializeContext } from './context.js';
import { DATA_KEY_LENGTH, type DecryptRequest, type EncryptRequest, type EncryptResult, type EncryptedDataKey, type KekMatcher, type Keyring } from './keyring.js';
import { unwrapFirst } from './unwrap-first.js';

/** The provider id of every wrapped key a customer key makes. */
export const CUSTOMER_KEY_PROVIDER_ID = 's3crypt-customer-key';
/** Every fingerprint of this version starts so; base64url never contains '.'. */
const FINGERPRINT_PREFIX = 'v1.';
const SALT_LENGTH = 16;
const MAC_LENGTH = 32;
const TAG_LENGTH = 16;
/** Each wrap has its own key (derived with a fresh salt), so a fixed nonce never repeats under a key. */
const NONCE = Buffer.alloc(12);
const FINGERPRINT_KEY_INFO = Buffer.from('s3crypt customer-key v1 fingerprint key');
const FINGERPRINT_INFO = Buffer.from('s3crypt customer-key v1 fingerprint');
const WRAP_INFO = Buffer.from('s3crypt customer-key v1 wrap');
const CUSTOMER_KEY_LENGTH = 32;

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

/** The salt and MAC of a `v1.` fingerprint, or undefined when the key id is not one. */
function parseFingerprint(keyId: string): { salt: Buffer; mac: Buffer } | undefined {
  if (!keyId.startsWith(FINGERPRINT_PREFIX)) return undefined;
  const encoded = keyId.slice(FINGERPRINT_PREFIX.length);
  const bytes = Buffer.from(encoded, 'base64url');
  // Canonical unpadded base64url of exactly salt ‖ MAC, nothing the decoder would skip or pad.
  if (bytes.length !== SALT_LENGTH + MAC_LENGTH || bytes.toString('base64url') !== encoded) return undefined;
  return { salt: bytes.subarray(0, SALT_LENGTH), mac: bytes.subarray(SALT_LENGTH) };
}

/**
 * A caller-supplied 256-bit key as a keyring: the key SSE-C users pass as `SSECustomerKey`, used
 * client-side. `EncryptingS3Client` builds one per request from `SSECustomerKey`; build one yourself
 * to use a customer key as any other keyring (a client of its own, a rotation source or target).
 *
 * Each data key is wrapped with AES-256-GCM under a key derived (HKDF-SHA256) from the customer key
 * and a fresh salt, with the object's encryption context as AAD. The wrapped key's `keyId` is a
 * fingerprint `v1.<base64url(salt ‖ HMAC)>`: a fresh salt per object, so two objects under one key
 * cannot be linked, and a MAC under a key-derived key, so it says nothing about the key to anyone
 * without it. Reading checks the fingerprint first: a wrong key fails with `ERR_CUSTOMER_KEY_MISMATCH`
 * before any unwrap is attempted. Layout: docs/FORMAT.md §10.
 *
 * The keyring keeps a copy of the key; `destroy()` zeroes it.
 *
 * @example
 * ```ts
 * const keyring = new CustomerKeyring(customerKey); // 32 bytes, e.g. the key you used with SSE-C
 * const s3 = new EncryptingS3Client({ client: new S3Client({}), keyring });
 * ```
 */
export class CustomerKeyring implements Keyring {
  readonly #key: Buffer;
  readonly #fingerprintKey: Buffer;
  #destroyed = false;

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== CUSTOMER_KEY_LENGTH) throw new TypeError('CustomerKeyring: the customer key must be a 32-byte Uint8Array');
    this.#key = Buffer.from(key);
    this.#fingerprintKey = hkdf(this.#key, Buffer.alloc(0), FINGERPRINT_KEY_INFO);
  }

  /** Every fingerprint of this key version: `s3crypt-customer-key` key ids starting with `v1.`. */
  kekMatchers(): readonly KekMatcher[] {
    return [{ providerId: CUSTOMER_KEY_PROVIDER_ID, keyId: FINGERPRINT_PREFIX, match: 'prefix' }];
  }

  /**
   * Whether `keyId` (a wrapped key's fingerprint, as envelopes and audit events record it) was made
   * by this key. Constant time; no unwrap.
   *
   * @example
   * ```ts
   * if (!keyring.recognizes(edk.keyId)) throw new Error('another customer key wrote this object');
   * ```
   */
  recognizes(keyId: string): boolean {
    this.#checkLive();
    const parsed = parseFingerprint(keyId);
    return parsed !== undefined && timingSafeEqual(this.#mac(parsed.salt), parsed.mac);
  }

  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    request.signal?.throwIfAborted();
    this.#checkLive();
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_LENGTH);
    const salt = randomBytes(SALT_LENGTH);
    const wrapKey = hkdf(this.#key, salt, WRAP_INFO);
    try {
      const ciphertext = sealDataKey(wrapKey, NONCE, dataKey, serializeContext(request.context));
      const keyId = FINGERPRINT_PREFIX + Buffer.concat([salt, this.#mac(salt)]).toString('base64url');
      return { dataKey, encryptedDataKeys: [{ providerId: CUSTOMER_KEY_PROVIDER_ID, keyId, ciphertext }] };
    } finally {
      wrapKey.fill(0);
    }
  }

  /**
   * Unwraps the first `s3crypt-customer-key` wrapped key whose fingerprint is this key's; resolves
   * `undefined` when there is none of that provider. A fingerprint of another key rejects with
   * `ERR_CUSTOMER_KEY_MISMATCH` (no unwrap is attempted); a matching one that does not unwrap (the
   * object was moved, or its context differs) with `ERR_KEY_UNWRAP_FAILED`.
   */
  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    request.signal?.throwIfAborted();
    this.#checkLive();
    const mine = request.encryptedDataKeys.filter((edk) => edk.providerId === CUSTOMER_KEY_PROVIDER_ID);
    const aad = serializeContext(request.context);
    return unwrapFirst(
      mine,
      async (edk) => this.#unwrap(edk, aad),
      (error) => (error instanceof S3CryptError ? error : new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the customer key could not unwrap the data key (tampered key, or the object was moved)')),
      request.signal,
    );
  }

  /**
   * Zeroes this keyring's copy of the customer key and what was derived from it; later calls throw.
   *
   * @example
   * ```ts
   * try { await rotate(new CustomerKeyring(oldKey)); } finally { keyring.destroy(); }
   * ```
   */
  destroy(): void {
    this.#destroyed = true;
    this.#key.fill(0);
    this.#fingerprintKey.fill(0);
  }

  #checkLive(): void {
    if (this.#destroyed) throw new TypeError('CustomerKeyring: the keyring was destroyed');
  }

  #mac(salt: Uint8Array): Buffer {
    return createHmac('sha256', this.#fingerprintKey).update(FINGERPRINT_INFO).update(salt).digest();
  }

  #unwrap(edk: EncryptedDataKey, aad: Buffer): Buffer {
    const parsed = parseFingerprint(edk.keyId);
    if (!parsed || edk.ciphertext.length !== DATA_KEY_LENGTH + TAG_LENGTH) {
      throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'a customer-key wrapped key is malformed');
    }
    if (!timingSafeEqual(this.#mac(parsed.salt), parsed.mac)) {
      throw new CustomerKeyError('ERR_CUSTOMER_KEY_MISMATCH', 'the customer key given is not the one the object was written with');
    }
    const wrapKey = hkdf(this.#key, parsed.salt, WRAP_INFO);
    try {
      return openDataKey(wrapKey, NONCE, edk.ciphertext, aad);
    } finally {
      wrapKey.fill(0);
    }
  }
}

/** Whether any of `edks` was wrapped by a customer key. */
export function hasCustomerKey(edks: readonly EncryptedDataKey[]): boolean {
  return edks.some((edk) => edk.providerId === CUSTOMER_KEY_PROVIDER_ID);
}
