import { constants, createPrivateKey, createPublicKey, hkdfSync, privateDecrypt, publicEncrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { KeyringError } from '../errors.js';
import { serializeContext } from './context.js';
import { unwrapFirst } from './unwrap-first.js';
import { DATA_KEY_LENGTH, type DecryptRequest, type EncryptRequest, type EncryptResult, type KekMatcher, type Keyring } from './keyring.js';

const PROVIDER_ID = 'raw-rsa';
const BINDING_LENGTH = 32;

/**
 * @example
 * ```ts
 * const options: RsaKeyringOptions = { keyName: 'archive', publicKey: readFileSync('archive.pub.pem', 'utf8') };
 * ```
 */
export interface RsaKeyringOptions {
  /** Names the key pair in envelopes. */
  readonly keyName: string;
  /** PEM (SPKI or PKCS#1) public key: enough to encrypt. */
  readonly publicKey: string | KeyObject;
  /** PEM private key: only readers need it. Without it the keyring can write but never read. */
  readonly privateKey?: string | KeyObject;
}

// RSA-OAEP's label is not supported for binding in every runtime, so the context is bound with a
// key-derived tag: binding = HKDF(dataKey, info = context), stored beside the OAEP ciphertext and
// checked in constant time after unwrapping. Wrong context → unwrap fails.
function contextBinding(dataKey: Uint8Array, context: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), Buffer.concat([Buffer.from('s3crypt raw-rsa binding'), context]), BINDING_LENGTH));
}

/**
 * Wraps data keys with RSA-OAEP-SHA256. A writer given only the public key can encrypt objects but
 * cannot decrypt anything, which suits ingest services that should never read back.
 *
 * @example
 * ```ts
 * const writer = new RsaKeyring({ keyName: 'archive-2026', publicKey: fs.readFileSync('archive.pub.pem', 'utf8') });
 * const reader = new RsaKeyring({ keyName: 'archive-2026', publicKey, privateKey });
 * ```
 */
export class RsaKeyring implements Keyring {
  readonly keyName: string;
  readonly #publicKey: KeyObject;
  readonly #privateKey: KeyObject | undefined;

  constructor(options: RsaKeyringOptions) {
    if (typeof options.keyName !== 'string' || options.keyName.length === 0) throw new TypeError('RsaKeyring: keyName must be a non-empty string');
    this.keyName = options.keyName;
    // createPublicKey accepts PEM or a private KeyObject, but refuses a public KeyObject on Node 20.
    this.#publicKey = isKeyObject(options.publicKey) && options.publicKey.type === 'public' ? options.publicKey : createPublicKey(options.publicKey);
    if (this.#publicKey.asymmetricKeyType !== 'rsa') throw new TypeError('RsaKeyring: publicKey must be an RSA key');
    if ((this.#publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new TypeError('RsaKeyring: RSA keys must be at least 2048 bits');
    this.#privateKey = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
    if (this.#privateKey && this.#privateKey.type !== 'private') throw new TypeError('RsaKeyring: privateKey must be a private key');
  }

  /** True when this keyring holds the private key and can therefore decrypt. */
  get canDecrypt(): boolean {
    return this.#privateKey !== undefined;
  }

  /** The one key pair this keyring unwraps with: `raw-rsa` / `keyName`, a public-key KEK. */
  kekMatchers(): readonly KekMatcher[] {
    return [{ providerId: PROVIDER_ID, keyId: this.keyName, publicKey: true }];
  }

  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    request.signal?.throwIfAborted();
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_LENGTH);
    const wrapped = publicEncrypt({ key: this.#publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, dataKey);
    const ciphertext = Buffer.concat([wrapped, contextBinding(dataKey, serializeContext(request.context))]);
    return { dataKey, encryptedDataKeys: [{ providerId: PROVIDER_ID, keyId: this.keyName, ciphertext }] };
  }

  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    request.signal?.throwIfAborted();
    const mine = request.encryptedDataKeys.filter((edk) => edk.providerId === PROVIDER_ID && edk.keyId === this.keyName);
    if (mine.length === 0) return undefined;
    if (!this.#privateKey) {
      throw new KeyringError('ERR_KEY_UNWRAP_FAILED', `RSA key "${this.keyName}" is public-only in this keyring and cannot decrypt`);
    }
    const privateKey = this.#privateKey;
    const context = serializeContext(request.context);
    return unwrapFirst(
      mine,
      async (edk) => unwrapWithPrivateKey(privateKey, edk.ciphertext, context),
      () => new KeyringError('ERR_KEY_UNWRAP_FAILED', `RSA key "${this.keyName}" could not unwrap the data key (wrong key, tampered key, or the object was moved)`),
      request.signal,
    );
  }
}

/** OAEP-decrypts the data key, then checks its context binding in constant time; throws on any mismatch. */
function unwrapWithPrivateKey(privateKey: KeyObject, ciphertext: Uint8Array, context: Buffer): Buffer {
  if (ciphertext.length <= BINDING_LENGTH) throw new RangeError('wrapped key too short');
  const split = ciphertext.length - BINDING_LENGTH;
  const dataKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, ciphertext.subarray(0, split));
  if (dataKey.length === DATA_KEY_LENGTH && timingSafeEqual(contextBinding(dataKey, context), ciphertext.subarray(split))) return dataKey;
  dataKey.fill(0);
  throw new Error('context binding mismatch');
}

function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === 'object' && value !== null && typeof (value as KeyObject).export === 'function' && typeof (value as KeyObject).type === 'string';
}
