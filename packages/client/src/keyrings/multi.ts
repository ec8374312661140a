import { KeyringError, S3CryptError } from '../errors.js';
import type { DecryptRequest, EncryptRequest, EncryptResult, EncryptedDataKey, KekMatcher, Keyring } from './keyring.js';

/**
 * @example
 * ```ts
 * const options: MultiKeyringOptions = { generator: primary, children: [disasterRecovery] };
 * ```
 */
export interface MultiKeyringOptions {
  /** Generates (or receives) the data key and wraps it first. */
  readonly generator: Keyring;
  /** Each also wraps the same data key, e.g. a disaster-recovery or second-region key. */
  readonly children?: readonly Keyring[];
  /**
   * Keyrings that only unwrap, tried after the others: retired keys whose objects must stay readable,
   * or keys a reader holds but must not wrap new objects under.
   */
  readonly decryptOnly?: readonly Keyring[];
}

/**
 * Wraps one data key under several keyrings; any one of them can decrypt. Writes fail closed: if any
 * keyring fails to wrap, nothing is written.
 *
 * @example
 * ```ts
 * const keyring = new MultiKeyring({ generator: primaryKms, children: [new RsaKeyring({ keyName: 'dr', publicKey })] });
 * const reader = new MultiKeyring({ generator: newKey, decryptOnly: [retiredKey] }); // wraps under newKey only
 * ```
 */
export class MultiKeyring implements Keyring {
  readonly #generator: Keyring;
  readonly #children: readonly Keyring[];
  readonly #decryptOnly: readonly Keyring[];

  constructor(options: MultiKeyringOptions) {
    if (!options.generator) throw new TypeError('MultiKeyring: generator keyring is required');
    this.#generator = options.generator;
    this.#children = [...(options.children ?? [])];
    this.#decryptOnly = [...(options.decryptOnly ?? [])];
  }

  /** Every member, in the order unwrapping tries them. */
  get #unwrappers(): readonly Keyring[] {
    return [this.#generator, ...this.#children, ...this.#decryptOnly];
  }

  /**
   * Every member's KEKs, generator first; `undefined` when any member cannot name its own (it lacks
   * `kekMatchers` or returns `undefined`), since a policy without that member's keys would refuse its objects.
   */
  kekMatchers(): readonly KekMatcher[] | undefined {
    const matchers: KekMatcher[] = [];
    for (const keyring of this.#unwrappers) {
      const own = keyring.kekMatchers?.();
      if (own === undefined) return undefined;
      matchers.push(...own);
    }
    return matchers;
  }

  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    request.signal?.throwIfAborted();
    const first = await this.#generator.onEncrypt(request);
    const encryptedDataKeys: EncryptedDataKey[] = [...first.encryptedDataKeys];
    try {
      for (const child of this.#children) {
        request.signal?.throwIfAborted();
        const result = await child.onEncrypt({ context: request.context, dataKey: first.dataKey, signal: request.signal, observer: request.observer });
        encryptedDataKeys.push(...result.encryptedDataKeys);
      }
    } catch (error) {
      if (request.dataKey === undefined) first.dataKey.fill(0);
      throw error;
    }
    return { dataKey: first.dataKey, encryptedDataKeys };
  }

  /**
   * Tries each keyring in order; the first that unwraps wins. If all fail, the first typed failure is
   * reported. An aborted `signal` stops the tries and rejects with its reason.
   */
  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    const failures: unknown[] = [];
    for (const keyring of this.#unwrappers) {
      request.signal?.throwIfAborted();
      try {
        const dataKey = await keyring.onDecrypt(request);
        if (dataKey) return dataKey;
      } catch (error) {
        request.signal?.throwIfAborted();
        failures.push(error);
      }
    }
    if (failures.length === 0) return undefined;
    const typed = failures.find((failure) => failure instanceof S3CryptError);
    if (typed) throw typed;
    throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'no keyring in the multi-keyring could unwrap the data key', { cause: failures[0] });
  }
}
