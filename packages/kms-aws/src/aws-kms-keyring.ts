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
  type Keyring,
  unwrapFirst,
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
 * The part of a KMS client the keyring uses: `send` of GenerateDataKey, Encrypt and Decrypt.
 * `KMSClient` from `@aws-sdk/client-kms` fits, and so does any test double or wrapper.
 *
 * @example
 * ```ts
 * const client: AwsKmsClientLike = new KMSClient({ region: 'eu-west-1' });
 * ```
 */
export interface AwsKmsClientLike {
  send(command: GenerateDataKeyCommand): Promise<GenerateDataKeyCommandOutput>;
  send(command: EncryptCommand): Promise<EncryptCommandOutput>;
  send(command: DecryptCommand): Promise<DecryptCommandOutput>;
}

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

  constructor(options: AwsKmsKeyringOptions) {
    if (typeof options?.keyId !== 'string' || options.keyId.length === 0) {
      throw new TypeError('AwsKmsKeyring: keyId must be a non-empty string (key ARN, key id, alias/… or alias ARN)');
    }
    if (options.grantTokens !== undefined && !options.grantTokens.every((t) => typeof t === 'string')) {
      throw new TypeError('AwsKmsKeyring: grantTokens must be an array of strings');
    }
    this.keyId = options.keyId;
    this.#kind = keyIdKind(options.keyId);
    this.#client = options.client ?? new KMSClient(options.clientConfig ?? {});
    this.#grantTokens = options.grantTokens ? [...options.grantTokens] : undefined;
  }

  async onEncrypt({ context, dataKey }: EncryptRequest): Promise<EncryptResult> {
    if (dataKey === undefined) return this.#generate(context);
    if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_LENGTH) {
      throw new TypeError(`AwsKmsKeyring: dataKey must be ${DATA_KEY_LENGTH} bytes`);
    }
    let output: EncryptCommandOutput;
    try {
      output = await this.#client.send(
        new EncryptCommand({
          KeyId: this.keyId,
          Plaintext: dataKey,
          EncryptionContext: { ...context },
          GrantTokens: this.#grantTokens,
        }),
      );
    } catch (error) {
      throw toKmsError(error, this.keyId, 'Encrypt');
    }
    return { dataKey, encryptedDataKeys: [this.#edk(output.KeyId, output.CiphertextBlob, 'Encrypt')] };
  }

  async onDecrypt({ context, encryptedDataKeys }: DecryptRequest): Promise<Uint8Array | undefined> {
    const candidates = encryptedDataKeys.filter((edk) => this.#mayOwn(edk));
    return unwrapFirst(
      candidates,
      (edk) => this.#decrypt(edk, context),
      // Through an alias, KMS's IncorrectKeyException means the data key belongs to another key.
      (error, edk) => (this.#kind === 'alias' && isIncorrectKey(error) ? undefined : error instanceof KmsError ? error : toKmsError(error, edk.keyId, 'Decrypt')),
    );
  }

  async #generate(context: EncryptionContext): Promise<EncryptResult> {
    let output: GenerateDataKeyCommandOutput;
    try {
      output = await this.#client.send(
        new GenerateDataKeyCommand({
          KeyId: this.keyId,
          KeySpec: 'AES_256',
          EncryptionContext: { ...context },
          GrantTokens: this.#grantTokens,
        }),
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

  async #decrypt(edk: EncryptedDataKey, context: EncryptionContext): Promise<Uint8Array> {
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
