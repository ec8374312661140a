import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type DecryptCommandOutput,
  type EncryptCommandOutput,
  type GenerateDataKeyCommandOutput,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import {
  DATA_KEY_LENGTH,
  KmsError,
  type DecryptRequest,
  type EncryptedDataKey,
  type EncryptionContext,
  type EncryptRequest,
  type EncryptResult,
  type KekMatcher,
  type Keyring,
  unwrapFirst,
  withDeadline,
} from '@s3crypt/client';
import { classifyKmsFailure, toKmsError } from './lib/errors.js';

/**
 * The `providerId` of every encrypted data key an {@link AwsKmsKeyring} writes.
 *
 * @example
 * ```ts
 * const kmsKeys = envelope.encryptedDataKeys.filter((edk) => edk.providerId === AWS_KMS_PROVIDER_ID);
 * ```
 */
export const AWS_KMS_PROVIDER_ID = 'aws-kms';

/**
 * The part of a KMS client the keyring uses: `send` of GenerateDataKey, Encrypt and Decrypt, with the
 * SDK's `abortSignal` option. `KMSClient` from `@aws-sdk/client-kms` fits, and so does any test
 * double or wrapper (one that ignores `abortSignal` still gets abandoned on abort or timeout).
 *
 * @example
 * ```ts
 * const client: AwsKmsClientLike = new KMSClient({ region: 'eu-west-1' });
 * ```
 */
export interface AwsKmsClientLike {
  send(command: GenerateDataKeyCommand, options?: AwsKmsSendOptions): Promise<GenerateDataKeyCommandOutput>;
  send(command: EncryptCommand, options?: AwsKmsSendOptions): Promise<EncryptCommandOutput>;
  send(command: DecryptCommand, options?: AwsKmsSendOptions): Promise<DecryptCommandOutput>;
}

/**
 * The options the keyring passes to {@link AwsKmsClientLike.send}: the SDK's `abortSignal`.
 *
 * @example
 * ```ts
 * await client.send(command, { abortSignal: AbortSignal.timeout(5_000) } satisfies AwsKmsSendOptions);
 * ```
 */
export interface AwsKmsSendOptions {
  readonly abortSignal?: AbortSignal;
}

/**
 * The default of {@link AwsKmsKeyringOptions.timeoutMs}: 10 seconds.
 *
 * @example
 * ```ts
 * new AwsKmsKeyring({ keyId, timeoutMs: 3 * AWS_KMS_DEFAULT_TIMEOUT_MS });
 * ```
 */
export const AWS_KMS_DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Options of {@link AwsKmsKeyring}.
 *
 * @example
 * ```ts
 * const options: AwsKmsKeyringOptions = { keyId: 'alias/s3crypt', clientConfig: { region: 'eu-west-1' } };
 * ```
 */
export interface AwsKmsKeyringOptions {
  /**
   * The KMS key: a key ARN, a key id, an alias name (`alias/…`) or an alias ARN. Encrypted data keys
   * always record the key ARN KMS reports, so envelopes name the real key.
   */
  readonly keyId: string;
  /** The client to send commands with. Default: `new KMSClient(clientConfig)`. */
  readonly client?: AwsKmsClientLike;
  /** Configuration of the default client (region, credentials, endpoint, retries). */
  readonly clientConfig?: KMSClientConfig;
  /** Grant tokens passed with every request. */
  readonly grantTokens?: readonly string[];
  /**
   * How long one `onEncrypt` or `onDecrypt` may take, in milliseconds: every KMS request it makes,
   * connecting, waiting for the answer and the SDK's retries included. When it runs out the request
   * is aborted and the keyring rejects with `ERR_KMS_UNAVAILABLE`. Default
   * {@link AWS_KMS_DEFAULT_TIMEOUT_MS} (10 s).
   */
  readonly timeoutMs?: number;
}

type KeyIdKind = 'key-arn' | 'key-id' | 'alias';

function keyIdKind(keyId: string): KeyIdKind {
  if (keyId.startsWith('alias/') || /^arn:[^:]+:kms:[^:]*:[^:]*:alias\//.test(keyId)) return 'alias';
  if (keyId.startsWith('arn:')) return 'key-arn';
  return 'key-id';
}

/**
 * A keyring that protects data keys with an AWS KMS symmetric key. New data keys come from
 * GenerateDataKey (AES_256); data keys generated elsewhere are wrapped with Encrypt; both bind the
 * object's encryption context, which Decrypt must then present again.
 *
 * On decrypt it only tries encrypted data keys that name its own key (for an alias it asks KMS,
 * which refuses ciphertexts of other keys), and passes the key id to KMS explicitly, so metadata
 * rewritten to name another key is never followed. After re-pointing an alias at a new key, read
 * older objects with a multi-keyring that also holds a keyring for the old key ARN.
 *
 * A request's `signal` aborts the KMS request in flight (through the SDK's `abortSignal`); the
 * keyring then rejects with the signal's `reason` (a `DOMException` named `AbortError` unless the
 * caller gave another reason). Running out of `timeoutMs` rejects with `ERR_KMS_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * import { EncryptingS3Client } from '@s3crypt/client';
 * import { AwsKmsKeyring } from '@s3crypt/kms-aws';
 *
 * const keyring = new AwsKmsKeyring({ keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' });
 * const s3 = new EncryptingS3Client({ client: new S3Client({}), keyring });
 * ```
 */
export class AwsKmsKeyring implements Keyring {
  readonly keyId: string;
  readonly #kind: KeyIdKind;
  readonly #client: AwsKmsClientLike;
  readonly #grantTokens: string[] | undefined;
  readonly #timeoutMs: number;

  constructor(options: AwsKmsKeyringOptions) {
    if (typeof options?.keyId !== 'string' || options.keyId.length === 0) {
      throw new TypeError('AwsKmsKeyring: keyId must be a non-empty string (key ARN, key id, alias/… or alias ARN)');
    }
    if (options.grantTokens !== undefined && !options.grantTokens.every((t) => typeof t === 'string')) {
      throw new TypeError('AwsKmsKeyring: grantTokens must be an array of strings');
    }
    const timeoutMs = options.timeoutMs ?? AWS_KMS_DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('AwsKmsKeyring: timeoutMs must be a positive number of milliseconds');
    this.#timeoutMs = timeoutMs;
    this.keyId = options.keyId;
    this.#kind = keyIdKind(options.keyId);
    this.#client = options.client ?? new KMSClient(options.clientConfig ?? {});
    this.#grantTokens = options.grantTokens ? [...options.grantTokens] : undefined;
  }

  /**
   * The KEKs envelopes name for this key, without asking KMS: the key ARN itself; for a bare key id,
   * that id or any key ARN ending in `:key/<id>`; `undefined` for an alias, whose key only KMS knows.
   */
  kekMatchers(): readonly KekMatcher[] | undefined {
    switch (this.#kind) {
      case 'key-arn':
        return [{ providerId: AWS_KMS_PROVIDER_ID, keyId: this.keyId }];
      case 'key-id':
        return [
          { providerId: AWS_KMS_PROVIDER_ID, keyId: this.keyId },
          { providerId: AWS_KMS_PROVIDER_ID, keyId: `:key/${this.keyId}`, match: 'suffix' },
        ];
      case 'alias':
        return undefined;
    }
  }

  async onEncrypt({ context, dataKey, signal }: EncryptRequest): Promise<EncryptResult> {
    if (dataKey !== undefined && (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_LENGTH)) {
      throw new TypeError(`AwsKmsKeyring: dataKey must be ${DATA_KEY_LENGTH} bytes`);
    }
    return withDeadline(
      {
        signal,
        timeoutMs: this.#timeoutMs,
        onTimeout: (cause) => this.#timedOut(dataKey === undefined ? 'GenerateDataKey' : 'Encrypt', cause),
        discard: (late) => {
          if (dataKey === undefined) late.dataKey.fill(0);
        },
      },
      (abortSignal) => (dataKey === undefined ? this.#generate(context, abortSignal) : this.#encrypt(context, dataKey, abortSignal)),
    );
  }

  async onDecrypt({ context, encryptedDataKeys, signal }: DecryptRequest): Promise<Uint8Array | undefined> {
    const candidates = encryptedDataKeys.filter((edk) => this.#mayOwn(edk));
    if (candidates.length === 0) return undefined;
    return withDeadline(
      { signal, timeoutMs: this.#timeoutMs, onTimeout: (cause) => this.#timedOut('Decrypt', cause), discard: (late) => late?.fill(0) },
      (abortSignal) =>
        unwrapFirst(
          candidates,
          (edk) => this.#decrypt(edk, context, abortSignal),
          // Through an alias, KMS's IncorrectKeyException means the data key belongs to another key.
          (error, edk) => (this.#kind === 'alias' && isIncorrectKey(error) ? undefined : error instanceof KmsError ? error : toKmsError(error, edk.keyId, 'Decrypt')),
          abortSignal,
        ),
    );
  }

  async #encrypt(context: EncryptionContext, dataKey: Uint8Array, abortSignal: AbortSignal): Promise<EncryptResult> {
    let output: EncryptCommandOutput;
    try {
      output = await this.#client.send(
        new EncryptCommand({
          KeyId: this.keyId,
          Plaintext: dataKey,
          EncryptionContext: { ...context },
          GrantTokens: this.#grantTokens,
        }),
        { abortSignal },
      );
    } catch (error) {
      throw toKmsError(error, this.keyId, 'Encrypt');
    }
    return { dataKey, encryptedDataKeys: [this.#edk(output.KeyId, output.CiphertextBlob, 'Encrypt')] };
  }

  async #generate(context: EncryptionContext, abortSignal: AbortSignal): Promise<EncryptResult> {
    let output: GenerateDataKeyCommandOutput;
    try {
      output = await this.#client.send(
        new GenerateDataKeyCommand({
          KeyId: this.keyId,
          KeySpec: 'AES_256',
          EncryptionContext: { ...context },
          GrantTokens: this.#grantTokens,
        }),
        { abortSignal },
      );
    } catch (error) {
      throw toKmsError(error, this.keyId, 'GenerateDataKey');
    }
    const plaintext = output.Plaintext;
    if (!(plaintext instanceof Uint8Array) || plaintext.length !== DATA_KEY_LENGTH) {
      plaintext?.fill(0);
      throw malformed(this.keyId, 'GenerateDataKey', `a ${DATA_KEY_LENGTH}-byte plaintext key`);
    }
    try {
      return { dataKey: plaintext, encryptedDataKeys: [this.#edk(output.KeyId, output.CiphertextBlob, 'GenerateDataKey')] };
    } catch (error) {
      plaintext.fill(0);
      throw error;
    }
  }

  async #decrypt(edk: EncryptedDataKey, context: EncryptionContext, abortSignal: AbortSignal): Promise<Uint8Array> {
    const requestKeyId = this.#kind === 'alias' ? this.keyId : edk.keyId;
    let output: DecryptCommandOutput;
    try {
      output = await this.#client.send(
        new DecryptCommand({
          KeyId: requestKeyId,
          CiphertextBlob: edk.ciphertext,
          EncryptionContext: { ...context },
          GrantTokens: this.#grantTokens,
        }),
        { abortSignal },
      );
    } catch (error) {
      throw toKmsError(error, edk.keyId, 'Decrypt');
    }
    const plaintext = output.Plaintext;
    if (output.KeyId !== edk.keyId) {
      plaintext?.fill(0);
      throw new KmsError(
        'ERR_KMS_WRONG_KEY',
        edk.keyId,
        `AWS KMS Decrypt with key ${edk.keyId} failed: KMS reports the ciphertext belongs to another key (${String(output.KeyId)})`,
      );
    }
    if (!(plaintext instanceof Uint8Array) || plaintext.length !== DATA_KEY_LENGTH) {
      plaintext?.fill(0);
      throw malformed(edk.keyId, 'Decrypt', `a ${DATA_KEY_LENGTH}-byte plaintext key`);
    }
    return plaintext;
  }

  #timedOut(operation: string, cause: unknown): KmsError {
    return new KmsError('ERR_KMS_UNAVAILABLE', this.keyId, `AWS KMS ${operation} with key ${this.keyId} failed: no answer within ${this.#timeoutMs} ms`, { cause });
  }

  /** Whether an encrypted data key may be this keyring's, judged without asking KMS. */
  #mayOwn(edk: EncryptedDataKey): boolean {
    if (edk.providerId !== AWS_KMS_PROVIDER_ID) return false;
    switch (this.#kind) {
      case 'key-arn':
        return edk.keyId === this.keyId;
      case 'key-id':
        return edk.keyId === this.keyId || (edk.keyId.startsWith('arn:') && edk.keyId.endsWith(`:key/${this.keyId}`));
      case 'alias':
        return edk.keyId.startsWith('arn:');
    }
  }

  #edk(keyArn: string | undefined, ciphertext: Uint8Array | undefined, operation: string): EncryptedDataKey {
    if (typeof keyArn !== 'string' || !keyArn.startsWith('arn:')) {
      throw malformed(this.keyId, operation, 'the key ARN');
    }
    if (!(ciphertext instanceof Uint8Array) || ciphertext.length === 0) {
      throw malformed(this.keyId, operation, 'a ciphertext blob');
    }
    return { providerId: AWS_KMS_PROVIDER_ID, keyId: keyArn, ciphertext };
  }
}

function isIncorrectKey(error: unknown): boolean {
  return error instanceof KmsError && classifyKmsFailure(error.cause).label === 'IncorrectKeyException';
}

function malformed(keyId: string, operation: string, expected: string): KmsError {
  return new KmsError('ERR_KMS_FAILED', keyId, `AWS KMS ${operation} with key ${keyId} returned no ${expected}`);
}
