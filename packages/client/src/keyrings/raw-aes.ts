import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { openDataKey, sealDataKey } from './data-key-cipher.js';
import { KeyringError } from '../errors.js';
import { serializeContext } from './context.js';
import { unwrapFirst } from './unwrap-first.js';
import { DATA_KEY_LENGTH, type DecryptRequest, type EncryptRequest, type EncryptResult, type KekMatcher, type Keyring } from './keyring.js';

const PROVIDER_ID = 'raw-aes';
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/**
 * @example
 * ```ts
 * const options: RawAesKeyringOptions = { keyName: 'app-key-1', masterKey: randomBytes(32) };
 * ```
 */
export interface RawAesKeyringOptions {
  /** Names the master key in envelopes; readers select the key by this name. */
  readonly keyName: string;
  /** 32 random bytes. Keep it out of source code and logs; the keyring keeps its own copy. */
  readonly masterKey: Uint8Array;
}

/**
 * Wraps data keys with a local AES-256 master key (AES-256-GCM, the encryption context as AAD).
 *
 * @example
 * ```ts
 * const keyring = new RawAesKeyring({ keyName: 'app-2026', masterKey: await loadKeyFromSecretStore() });
 * ```
 */
export class RawAesKeyring implements Keyring {
  readonly keyName: string;
  // A KeyObject, made once: node:crypto takes one without re-checking it on every wrap and unwrap.
  readonly #masterKey: KeyObject;

  constructor(options: RawAesKeyringOptions) {
    if (typeof options.keyName !== 'string' || options.keyName.length === 0) throw new TypeError('RawAesKeyring: keyName must be a non-empty string');
    if (!(options.masterKey instanceof Uint8Array) || options.masterKey.length !== 32) {
      throw new TypeError('RawAesKeyring: masterKey must be a 32-byte Uint8Array');
    }
    this.keyName = options.keyName;
    this.#masterKey = createSecretKey(options.masterKey);
  }

  /** The one key this keyring unwraps with: `raw-aes` / `keyName`. */
  kekMatchers(): readonly KekMatcher[] {
    return [{ providerId: PROVIDER_ID, keyId: this.keyName }];
  }

  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    request.signal?.throwIfAborted();
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_LENGTH);
    const iv = randomBytes(IV_LENGTH);
    const wrapped = Buffer.concat([iv, sealDataKey(this.#masterKey, iv, dataKey, serializeContext(request.context))]);
    return { dataKey, encryptedDataKeys: [{ providerId: PROVIDER_ID, keyId: this.keyName, ciphertext: wrapped }] };
  }

  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    request.signal?.throwIfAborted();
    const mine = request.encryptedDataKeys.filter((edk) => edk.providerId === PROVIDER_ID && edk.keyId === this.keyName);
    const aad = serializeContext(request.context);
    return unwrapFirst(
      mine,
      async (edk) => this.#unwrap(edk.ciphertext, aad),
      () => new KeyringError('ERR_KEY_UNWRAP_FAILED', `raw-aes key "${this.keyName}" could not unwrap the data key (wrong key, tampered key, or the object was moved)`),
      request.signal,
    );
  }

  #unwrap(wrapped: Uint8Array, aad: Buffer): Buffer {
    if (wrapped.length !== IV_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH) throw new RangeError('wrong wrapped key length');
    return openDataKey(this.#masterKey, wrapped.subarray(0, IV_LENGTH), wrapped.subarray(IV_LENGTH), aad);
  }
}
