// The reader's key policy (docs/SECURITY.md, "Key policy"): which key-encryption keys it trusts, how
// many wrapped keys and unwrap attempts an object may cost, the oldest format it accepts, and whose
// signatures vouch for objects. Everything here is checked on the parsed envelope, before any keyring
// or KMS call.
import type { KeyObject } from 'node:crypto';
import { CustomerKeyError, DecryptionError, KeyPolicyError } from '../errors.js';
import { FORMAT_VERSION_1, FORMAT_VERSION_2 } from '../format/constants.js';
import { isSignedSuite, type Envelope } from '../format/envelope.js';
import { checkP384Key, signatureValid, signerIdOf } from '../format/signature.js';
import type { OpenedTrailer } from '../format/trailer.js';
import { CUSTOMER_KEY_PROVIDER_ID, hasCustomerKey } from '../keyrings/customer-key.js';
import type { EncryptedDataKey, KekMatcher, Keyring } from '../keyrings/keyring.js';
import { quoteUntrusted } from '../untrusted-text.js';

/**
 * How a reader decides which objects it will even try to decrypt.
 *
 * @example
 * ```ts
 * const keyPolicy: KeyPolicy = {
 *   trustedKeks: [{ providerId: 'aws-kms', keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-…' }],
 *   minFormatVersion: 2,
 * };
 * ```
 */
export interface KeyPolicy {
  /**
   * The KEKs trusted for decryption. Default: the keyring's own (`keyring.kekMatchers()`); a keyring
   * that cannot name them (a KMS alias) needs this. `'discovery'` trusts any KEK the keyring can
   * unwrap with: an explicit opt-in.
   */
  readonly trustedKeks?: readonly KekMatcher[] | 'discovery';
  /** Most wrapped keys an object may carry; more is refused before any keyring call. Default 8 (1–255). */
  readonly maxEncryptedDataKeys?: number;
  /** Most wrapped keys tried (keyring calls) per read. Default 3. */
  readonly maxUnwrapAttempts?: number;
  /** Oldest format version read. Default 1; set 2 once every object has been rewritten. */
  readonly minFormatVersion?: 1 | 2;
  /**
   * ECDSA P-384 public keys of trusted writers. When any is given, every object must be signed by
   * one of them (format 2, signed suite); unsigned objects and other signers are refused.
   */
  readonly verificationKeys?: readonly KeyObject[];
  /**
   * Accept a data key unwrapped through a public-key KEK (RSA) from an object that no pinned key
   * signed, i.e. accept that anyone holding the public key may have written it. Default false.
   */
  readonly acceptUnsignedPublicKeyWrapping?: boolean;
}

const DEFAULT_MAX_ENCRYPTED_DATA_KEYS = 8;
const DEFAULT_MAX_UNWRAP_ATTEMPTS = 3;
/** Providers whose KEK is always a public key, whatever a matcher says. */
const PUBLIC_KEY_PROVIDERS = new Set(['raw-rsa']);

/** Whether `edk` is wrapped by a KEK `matcher` names. */
export function matches(matcher: KekMatcher, edk: EncryptedDataKey): boolean {
  if (matcher.providerId !== edk.providerId) return false;
  switch (matcher.match ?? 'exact') {
    case 'exact':
      return edk.keyId === matcher.keyId;
    case 'prefix':
      return edk.keyId.startsWith(matcher.keyId);
    case 'suffix':
      return edk.keyId.endsWith(matcher.keyId);
  }
}

function positiveInteger(value: number | undefined, fallback: number, max: number, name: string): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < 1 || resolved > max) throw new TypeError(`EncryptingS3Client: keyPolicy.${name} must be an integer from 1 to ${max}`);
  return resolved;
}

function checkMatchers(matchers: readonly KekMatcher[], where: string): readonly KekMatcher[] {
  for (const m of matchers) {
    if (typeof m?.providerId !== 'string' || typeof m.keyId !== 'string' || m.keyId.length === 0 || !['exact', 'prefix', 'suffix', undefined].includes(m.match)) {
      throw new TypeError(`EncryptingS3Client: ${where} must be a list of { providerId, keyId, match?, publicKey? }`);
    }
  }
  return [...matchers];
}

/** A wrapped key the policy lets the reader try, and whether its KEK is a public key. */
export interface UnwrapCandidate {
  readonly edk: EncryptedDataKey;
  readonly publicKey: boolean;
}

/** What the policy lets a reader try, and whether it set aside public-key EDKs for want of a signature. */
export interface UnwrapCandidates {
  readonly candidates: UnwrapCandidate[];
  readonly unsignedPublicKeyDropped: boolean;
}

/**
 * A {@link KeyPolicy} validated once, at client construction. A request that presents a customer key
 * reads under {@link ResolvedKeyPolicy.forCustomerKey}: the same limits, trusting that key only.
 */
export class ResolvedKeyPolicy {
  readonly #source: KeyPolicy | undefined;
  /** True for the policy of a request that presented a customer key. */
  readonly #forCustomerKey: boolean;
  /** The client keyring itself holds a customer key (so customer-key objects are its own). */
  readonly #keyringHoldsCustomerKey: boolean;
  readonly #trusted: readonly KekMatcher[] | 'discovery';
  /** The keyring's own description, consulted for whether a KEK is a public key. */
  readonly #keyringKeks: readonly KekMatcher[];
  readonly #maxEncryptedDataKeys: number;
  readonly maxUnwrapAttempts: number;
  readonly #minFormatVersion: number;
  readonly #verificationKeys: ReadonlyMap<string, KeyObject>;
  readonly #acceptUnsignedPublicKeyWrapping: boolean;

  constructor(policy: KeyPolicy | undefined, keyring: Keyring, forCustomerKey = false) {
    this.#source = policy;
    this.#forCustomerKey = forCustomerKey;
    const own = keyring.kekMatchers?.();
    this.#keyringKeks = own ? checkMatchers(own, 'keyring.kekMatchers()') : [];
    this.#keyringHoldsCustomerKey = this.#keyringKeks.some((matcher) => matcher.providerId === CUSTOMER_KEY_PROVIDER_ID);
    const trusted = policy?.trustedKeks ?? own;
    if (trusted === undefined) {
      throw new TypeError(
        "EncryptingS3Client: the keyring cannot name the keys it decrypts with (e.g. a KMS alias); set keyPolicy.trustedKeks to the key ids envelopes record (e.g. the key ARN), or to 'discovery' to trust any key the keyring can unwrap",
      );
    }
    if (trusted !== 'discovery' && !Array.isArray(trusted)) throw new TypeError("EncryptingS3Client: keyPolicy.trustedKeks must be a list of KEK matchers or 'discovery'");
    this.#trusted = trusted === 'discovery' ? trusted : checkMatchers(trusted, 'keyPolicy.trustedKeks');
    this.#maxEncryptedDataKeys = positiveInteger(policy?.maxEncryptedDataKeys, DEFAULT_MAX_ENCRYPTED_DATA_KEYS, 255, 'maxEncryptedDataKeys');
    this.maxUnwrapAttempts = positiveInteger(policy?.maxUnwrapAttempts, DEFAULT_MAX_UNWRAP_ATTEMPTS, 255, 'maxUnwrapAttempts');
    const minFormatVersion = policy?.minFormatVersion ?? FORMAT_VERSION_1;
    if (minFormatVersion !== FORMAT_VERSION_1 && minFormatVersion !== FORMAT_VERSION_2) throw new TypeError('EncryptingS3Client: keyPolicy.minFormatVersion must be 1 or 2');
    this.#minFormatVersion = minFormatVersion;
    const verificationKeys = new Map<string, KeyObject>();
    for (const key of policy?.verificationKeys ?? []) {
      checkP384Key(key, 'public', 'keyPolicy.verificationKeys[]');
      verificationKeys.set(signerIdOf(key).toString('hex'), key);
    }
    this.#verificationKeys = verificationKeys;
    this.#acceptUnsignedPublicKeyWrapping = policy?.acceptUnsignedPublicKeyWrapping === true;
  }

  /**
   * The policy of a request that presented a customer key (`keyring`): this policy's limits, format
   * minimum and pinned signers, trusting exactly the customer key's wrapped keys.
   */
  forCustomerKey(keyring: Keyring): ResolvedKeyPolicy {
    return new ResolvedKeyPolicy({ ...this.#source, trustedKeks: keyring.kekMatchers?.() ?? [] }, keyring, true);
  }

  /** True when every object must carry a signature by a pinned key. */
  get requiresSignature(): boolean {
    return this.#verificationKeys.size > 0;
  }

  /** The pinned verification key an envelope's signer id names, if any. */
  verificationKeyFor(signerId: Uint8Array | undefined): KeyObject | undefined {
    return signerId ? this.#verificationKeys.get(Buffer.from(signerId).toString('hex')) : undefined;
  }

  #isPublicKey(edk: EncryptedDataKey, matcher: KekMatcher | undefined): boolean {
    return PUBLIC_KEY_PROVIDERS.has(edk.providerId) || matcher?.publicKey === true || this.#keyringKeks.some((own) => own.publicKey === true && matches(own, edk));
  }

  /**
   * The wrapped keys this reader may try, in envelope order, at most `maxUnwrapAttempts`. Throws a
   * {@link KeyPolicyError} when the object is refused outright; `object` names it in messages.
   */
  candidates(keyed: KeyedObject, object: string): UnwrapCandidates {
    if (keyed.formatVersion !== undefined && keyed.formatVersion < this.#minFormatVersion) {
      throw new KeyPolicyError('ERR_FORMAT_VERSION_NOT_ALLOWED', `${object} is format version ${keyed.formatVersion}; the key policy accepts version ${this.#minFormatVersion} and later`);
    }
    const signed = keyed.signed;
    if (this.requiresSignature && !signed) {
      throw new KeyPolicyError('ERR_UNSIGNED_OBJECT', `${object} is not signed; the key policy requires a signature by a pinned verification key`);
    }
    const edks = keyed.encryptedDataKeys;
    if (edks.length > this.#maxEncryptedDataKeys) {
      throw new KeyPolicyError('ERR_TOO_MANY_ENCRYPTED_KEYS', `${object} carries ${edks.length} wrapped keys; the key policy allows ${this.#maxEncryptedDataKeys}`);
    }
    const trusted: UnwrapCandidate[] = [];
    for (const edk of edks) {
      const matcher = this.#trusted === 'discovery' ? undefined : this.#trusted.find((m) => matches(m, edk));
      if (this.#trusted !== 'discovery' && !matcher) continue;
      // A customer key is presented, never discovered: only a keyring holding one may try its EDKs.
      if (this.#trusted === 'discovery' && edk.providerId === CUSTOMER_KEY_PROVIDER_ID && !this.#keyringHoldsCustomerKey) continue;
      trusted.push({ edk, publicKey: this.#isPublicKey(edk, matcher) });
    }
    if (trusted.length === 0) {
      if (this.#forCustomerKey) {
        throw new CustomerKeyError('ERR_CUSTOMER_KEY_NOT_APPLICABLE', `${object} is not encrypted under a customer key; send the request without SSECustomerKey`);
      }
      if (hasCustomerKey(edks)) throw new CustomerKeyError('ERR_CUSTOMER_KEY_REQUIRED', `${object} is encrypted under a customer key; send it with the request (SSECustomerKey)`);
      const names = edks.slice(0, 4).map((edk) => `${quoteUntrusted(edk.providerId)}:${quoteUntrusted(edk.keyId)}`);
      throw new KeyPolicyError('ERR_KEY_NOT_ALLOWED', `${object} is wrapped only under keys the key policy does not trust (${names.join(', ')}${edks.length > 4 ? ', …' : ''})`);
    }
    // A public key vouches for nobody: without a pinned signature such a KEK cannot authenticate the writer.
    const vouched = this.requiresSignature || this.#acceptUnsignedPublicKeyWrapping ? trusted : trusted.filter((c) => !c.publicKey);
    if (vouched.length === 0) throw unsignedPublicKeyOnly(object);
    return { candidates: vouched.slice(0, this.maxUnwrapAttempts), unsignedPublicKeyDropped: vouched.length < trusted.length };
  }

  /**
   * With pinned verification keys: fails unless the authenticated trailer carries a valid signature
   * by the pinned key the envelope names. Called before any plaintext is released.
   */
  checkSignature(envelope: Envelope, trailer: OpenedTrailer, object: string): void {
    if (!this.requiresSignature) return;
    const key = this.verificationKeyFor(envelope.signerId);
    if (!key || !trailer.signature) throw new DecryptionError('ERR_SIGNATURE_INVALID', `${object} is signed by a key the key policy does not pin`);
    if (!signatureValid(key, trailer.signature.message, trailer.signature.value)) throw new DecryptionError('ERR_SIGNATURE_INVALID', `${object} has an invalid signature`);
  }
}

/**
 * What the key policy and the key seam need of a stored object, whatever its format: its wrapped
 * keys, whether its writer signed it, and for s3crypt objects the format version (other formats, such
 * as the S3 Encryption Client's, are admitted by their own client option instead).
 */
export interface KeyedObject {
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly signed: boolean;
  readonly formatVersion?: number;
}

/** An s3crypt envelope as a {@link KeyedObject}. */
export function keyedEnvelope(envelope: Envelope): KeyedObject {
  return { encryptedDataKeys: envelope.encryptedDataKeys, signed: isSignedSuite(envelope), formatVersion: envelope.version };
}

/** The refusal of an object that only a public-key KEK could open, with no pinned signature. */
export function unsignedPublicKeyOnly(object: string, cause?: unknown): KeyPolicyError {
  return new KeyPolicyError(
    'ERR_UNSIGNED_OBJECT',
    `${object} is wrapped only under public-key KEKs and not signed by a pinned key, so anyone holding the public key could have written it (pin keyPolicy.verificationKeys, or set acceptUnsignedPublicKeyWrapping)`,
    cause !== undefined ? { cause } : undefined,
  );
}
