import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import {
  CryptographyClient,
  KeyClient,
  parseKeyVaultKeyIdentifier,
  type CryptographyClientOptions,
} from '@azure/keyvault-keys';
import {
  DATA_KEY_LENGTH,
  KmsError,
  type DecryptRequest,
  type EncryptedDataKey,
  type EncryptRequest,
  type EncryptResult,
  type KekMatcher,
  type Keyring,
  unwrapFirst,
  withDeadline,
} from '@s3crypt/client';
import { bindingTag, decodeWrapped, encodeWrapped, tagsEqual } from './lib/context-binding.js';
import { mapAzureError } from './lib/errors.js';

/**
 * The `providerId` this keyring writes into every encrypted data key.
 *
 * @example
 * ```ts
 * const azureKeys = envelope.encryptedDataKeys.filter((edk) => edk.providerId === AZURE_KEY_VAULT_PROVIDER_ID);
 * ```
 */
export const AZURE_KEY_VAULT_PROVIDER_ID = 'azure-key-vault';

/**
 * Key wrap algorithms the keyring supports: RSA-OAEP-256 (vault RSA keys) or A256KW (Managed HSM AES keys).
 *
 * @example
 * ```ts
 * const algorithm: AzureKeyWrapAlgorithm = 'A256KW';
 * new AzureKeyVaultKeyring({ keyId: 'https://my-hsm.managedhsm.azure.net/keys/kek', credential, algorithm });
 * ```
 */
export type AzureKeyWrapAlgorithm = 'RSA-OAEP-256' | 'A256KW';

/**
 * The options the keyring passes to every Key Vault call: the SDK's `abortSignal`.
 *
 * @example
 * ```ts
 * await wrapper.wrapKey('RSA-OAEP-256', dataKey, { abortSignal: AbortSignal.timeout(5_000) } satisfies AzureCallOptions);
 * ```
 */
export interface AzureCallOptions {
  readonly abortSignal?: AbortSignal;
}

/**
 * The default of {@link AzureKeyVaultKeyringOptions.timeoutMs}: 10 seconds.
 *
 * @example
 * ```ts
 * new AzureKeyVaultKeyring({ keyId, credential, timeoutMs: 3 * AZURE_KEY_VAULT_DEFAULT_TIMEOUT_MS });
 * ```
 */
export const AZURE_KEY_VAULT_DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The part of `@azure/keyvault-keys`' `CryptographyClient` the keyring uses, so a test double or a
 * differently configured client fits.
 *
 * @example
 * ```ts
 * const wrapper: AzureKeyWrapClient = new CryptographyClient(versionedKeyId, credential);
 * ```
 */
export interface AzureKeyWrapClient {
  wrapKey(algorithm: AzureKeyWrapAlgorithm, key: Uint8Array, options?: AzureCallOptions): Promise<{ result: Uint8Array }>;
  unwrapKey(algorithm: AzureKeyWrapAlgorithm, encryptedKey: Uint8Array, options?: AzureCallOptions): Promise<{ result: Uint8Array }>;
}

/**
 * The part of `@azure/keyvault-keys`' `KeyClient` the keyring uses to learn a key's current version.
 *
 * @example
 * ```ts
 * const resolver: AzureKeyVersionResolver = new KeyClient(vaultUrl, credential);
 * ```
 */
export interface AzureKeyVersionResolver {
  getKey(name: string, options?: AzureCallOptions): Promise<{ id?: string; properties: { enabled?: boolean } }>;
}

/**
 * Options of {@link AzureKeyVaultKeyring}.
 *
 * @example
 * ```ts
 * const options: AzureKeyVaultKeyringOptions = {
 *   keyId: 'https://my-vault.vault.azure.net/keys/s3crypt-kek',
 *   credential: new DefaultAzureCredential(),
 * };
 * ```
 */
export interface AzureKeyVaultKeyringOptions {
  /**
   * The key's URL, `https://<vault>/keys/<name>` (new data keys use the current version) or
   * `https://<vault>/keys/<name>/<version>` (new data keys always use that version).
   */
  readonly keyId: string;
  /** Any `@azure/identity` credential, e.g. `DefaultAzureCredential`. */
  readonly credential: TokenCredential;
  /** `RSA-OAEP-256` (default) for RSA keys, `A256KW` for Managed HSM AES keys. */
  readonly algorithm?: AzureKeyWrapAlgorithm;
  /** Passed to every `CryptographyClient` and `KeyClient` the keyring creates (retries, `serviceVersion`, `agent`…). */
  readonly clientOptions?: CryptographyClientOptions;
  /** Builds the client for one versioned key id. Defaults to `new CryptographyClient(id, credential, clientOptions)`. */
  readonly cryptographyClient?: (versionedKeyId: string) => AzureKeyWrapClient;
  /** Resolves the current version of an unversioned key. Defaults to a `KeyClient` on the key's vault. */
  readonly keyClient?: AzureKeyVersionResolver;
  /**
   * How long one `onEncrypt` or `onDecrypt` may take, in milliseconds: every Key Vault request it
   * makes (current version, wrap or unwrap), connecting, waiting and the SDK's retries included. When
   * it runs out the requests are aborted and the keyring rejects with `ERR_KMS_UNAVAILABLE`. Default
   * {@link AZURE_KEY_VAULT_DEFAULT_TIMEOUT_MS} (10 s).
   */
  readonly timeoutMs?: number;
}

/**
 * Wraps s3crypt data keys with an Azure Key Vault (or Managed HSM) key.
 *
 * Each encrypted data key records the versioned key id that wrapped it, so rotating the key (a new
 * version) leaves older objects readable with the version they name. Key Vault's wrap operations take
 * no associated data, so the keyring binds the encryption context itself: next to the wrapped key it
 * stores HMAC-SHA256(HKDF-SHA256(dataKey), providerId ‖ keyId ‖ context), and checks it in constant
 * time after unwrapping. A data key moved to another object fails with `ERR_KMS_WRONG_KEY`.
 *
 * A request's `signal` aborts the Key Vault requests in flight (the SDK's `abortSignal`); the keyring
 * then rejects with the signal's `reason` (a `DOMException` named `AbortError` unless the caller gave
 * another reason). Running out of `timeoutMs` rejects with `ERR_KMS_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { DefaultAzureCredential } from '@azure/identity';
 * import { AzureKeyVaultKeyring } from '@s3crypt/kms-azure';
 *
 * const keyring = new AzureKeyVaultKeyring({
 *   keyId: 'https://my-vault.vault.azure.net/keys/s3crypt-kek',
 *   credential: new DefaultAzureCredential(),
 * });
 * const client = new EncryptingS3Client({ client: new S3Client({}), keyring });
 * ```
 */
export class AzureKeyVaultKeyring implements Keyring {
  readonly keyId: string;
  readonly algorithm: AzureKeyWrapAlgorithm;
  readonly #vaultUrl: string;
  readonly #keyName: string;
  readonly #version: string | undefined;
  readonly #clientFor: (versionedKeyId: string) => AzureKeyWrapClient;
  readonly #clients = new Map<string, AzureKeyWrapClient>();
  readonly #resolver: () => AzureKeyVersionResolver;
  readonly #timeoutMs: number;

  constructor(options: AzureKeyVaultKeyringOptions) {
    if (typeof options?.keyId !== 'string') throw new TypeError('AzureKeyVaultKeyring: keyId must be a key URL');
    const algorithm = options.algorithm ?? 'RSA-OAEP-256';
    if (algorithm !== 'RSA-OAEP-256' && algorithm !== 'A256KW') {
      throw new TypeError(`AzureKeyVaultKeyring: algorithm must be RSA-OAEP-256 or A256KW, got ${String(algorithm)}`);
    }
    if (!options.credential && !(options.cryptographyClient && options.keyClient)) {
      throw new TypeError('AzureKeyVaultKeyring: credential is required');
    }
    const timeoutMs = options.timeoutMs ?? AZURE_KEY_VAULT_DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('AzureKeyVaultKeyring: timeoutMs must be a positive number of milliseconds');
    this.#timeoutMs = timeoutMs;
    const parsed = parseKeyId(options.keyId);
    this.keyId = options.keyId;
    this.algorithm = algorithm;
    this.#vaultUrl = parsed.vaultUrl;
    this.#keyName = parsed.name;
    this.#version = parsed.version;
    this.#clientFor =
      options.cryptographyClient ?? ((id) => new CryptographyClient(id, options.credential, options.clientOptions));
    let resolver = options.keyClient;
    this.#resolver = () => (resolver ??= new KeyClient(parsed.vaultUrl, options.credential, options.clientOptions));
  }

  /**
   * Every version of this keyring's key, as its envelopes name them: the prefix
   * `<vault URL>/keys/<name>/` (the vault URL in lower case), a public-key KEK for RSA-OAEP-256.
   */
  kekMatchers(): readonly KekMatcher[] {
    return [{ providerId: AZURE_KEY_VAULT_PROVIDER_ID, keyId: this.#versionedKeyId(''), match: 'prefix', publicKey: this.algorithm === 'RSA-OAEP-256' }];
  }

  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    return withDeadline(
      {
        signal: request.signal,
        timeoutMs: this.#timeoutMs,
        onTimeout: (cause) => this.#timedOut(this.keyId, 'wrap', cause),
        discard: (late) => {
          if (request.dataKey === undefined) late.dataKey.fill(0);
        },
      },
      (abortSignal) => this.#encrypt(request, abortSignal),
    );
  }

  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    const own = request.encryptedDataKeys.filter((edk) => this.#owns(edk));
    if (own.length === 0) return undefined;
    return withDeadline(
      { signal: request.signal, timeoutMs: this.#timeoutMs, onTimeout: (cause) => this.#timedOut(this.keyId, 'unwrap', cause), discard: (late) => late?.fill(0) },
      (abortSignal) =>
        unwrapFirst(
          own,
          (edk) => this.#unwrap(edk, request, abortSignal),
          (error, edk) => mapAzureError(error, edk.keyId, 'unwrap'),
          abortSignal,
        ),
    );
  }

  async #encrypt(request: EncryptRequest, abortSignal: AbortSignal): Promise<EncryptResult> {
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_LENGTH);
    let versionedKeyId = this.keyId;
    let wrapped: Uint8Array;
    try {
      versionedKeyId = await this.#currentVersionedKeyId(abortSignal);
      wrapped = (await this.#client(versionedKeyId).wrapKey(this.algorithm, dataKey, { abortSignal })).result;
    } catch (error) {
      if (!request.dataKey) dataKey.fill(0);
      throw mapAzureError(error, versionedKeyId, 'wrap');
    }
    const tag = bindingTag(dataKey, AZURE_KEY_VAULT_PROVIDER_ID, versionedKeyId, request.context);
    const encryptedDataKey: EncryptedDataKey = {
      providerId: AZURE_KEY_VAULT_PROVIDER_ID,
      keyId: versionedKeyId,
      ciphertext: encodeWrapped(wrapped, tag),
    };
    return { dataKey, encryptedDataKeys: [encryptedDataKey] };
  }

  async #unwrap(edk: EncryptedDataKey, request: DecryptRequest, abortSignal: AbortSignal): Promise<Uint8Array> {
    const parts = decodeWrapped(edk.ciphertext);
    if (!parts) throw wrongKey(edk.keyId);
    // Rebuilt from its parts so that only this keyring's vault and key are ever called.
    const { version } = parseKeyId(edk.keyId);
    const client = this.#client(this.#versionedKeyId(version ?? ''));
    const dataKey = (await client.unwrapKey(this.algorithm, parts.wrappedKey, { abortSignal })).result;
    const expected = bindingTag(dataKey, edk.providerId, edk.keyId, request.context);
    if (dataKey.length !== DATA_KEY_LENGTH || !tagsEqual(expected, parts.tag)) {
      dataKey.fill(0);
      throw wrongKey(edk.keyId);
    }
    return dataKey;
  }

  #owns(edk: EncryptedDataKey): boolean {
    if (edk.providerId !== AZURE_KEY_VAULT_PROVIDER_ID) return false;
    try {
      const parsed = parseKeyId(edk.keyId);
      return parsed.vaultUrl === this.#vaultUrl && parsed.name === this.#keyName && parsed.version !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * The key id recorded in envelopes: this keyring's vault URL (as parsed: lower case, no default
   * port) and key name with `version`, so every envelope it writes matches {@link kekMatchers}.
   */
  #versionedKeyId(version: string): string {
    return `${this.#vaultUrl}/keys/${this.#keyName}/${version}`;
  }

  async #currentVersionedKeyId(abortSignal: AbortSignal): Promise<string> {
    if (this.#version) return this.#versionedKeyId(this.#version);
    let key: Awaited<ReturnType<AzureKeyVersionResolver['getKey']>>;
    try {
      key = await this.#resolver().getKey(this.#keyName, { abortSignal });
    } catch (error) {
      throw mapAzureError(error, this.keyId, 'resolve');
    }
    if (key.properties.enabled === false) {
      throw new KmsError('ERR_KMS_KEY_DISABLED', key.id ?? this.keyId, `the key's current version is disabled (Azure Key Vault key ${key.id ?? this.keyId})`);
    }
    const version = key.id ? parseKeyId(key.id).version : undefined;
    if (!key.id || !version) {
      throw new KmsError('ERR_KMS_FAILED', this.keyId, `Key Vault returned no versioned id for key ${this.keyId}`);
    }
    return this.#versionedKeyId(version);
  }

  #timedOut(keyId: string, operation: string, cause: unknown): KmsError {
    return new KmsError('ERR_KMS_UNAVAILABLE', keyId, `Key Vault did not answer within ${this.#timeoutMs} ms (Azure Key Vault key ${keyId}, ${operation})`, { cause });
  }

  #client(versionedKeyId: string): AzureKeyWrapClient {
    let client = this.#clients.get(versionedKeyId);
    if (!client) {
      client = this.#clientFor(versionedKeyId);
      this.#clients.set(versionedKeyId, client);
    }
    return client;
  }
}

function wrongKey(keyId: string): KmsError {
  return new KmsError('ERR_KMS_WRONG_KEY', keyId, `the wrapped data key does not belong to this object or key (Azure Key Vault key ${keyId})`);
}

function parseKeyId(keyId: string): { vaultUrl: string; name: string; version: string | undefined } {
  let parsed: ReturnType<typeof parseKeyVaultKeyIdentifier>;
  try {
    parsed = parseKeyVaultKeyIdentifier(keyId);
  } catch (error) {
    throw new TypeError(`AzureKeyVaultKeyring: ${keyId} is not a Key Vault key URL (https://<vault>/keys/<name>[/<version>])`, { cause: error });
  }
  return { vaultUrl: parsed.vaultUrl.replace(/\/+$/, '').toLowerCase(), name: parsed.name, version: parsed.version || undefined };
}
