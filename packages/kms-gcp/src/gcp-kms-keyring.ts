import { randomBytes } from 'node:crypto';
import { crc32c } from '@aws-crypto/crc32c';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import {
  DATA_KEY_LENGTH,
  KmsError,
  serializeContext,
  type DecryptRequest,
  type EncryptedDataKey,
  type EncryptRequest,
  type EncryptResult,
  type KekMatcher,
  type Keyring,
  unwrapFirst,
  withDeadline,
} from '@s3crypt/client';
import { gcpTimeoutError, mapGcpError } from './lib/errors.js';
import { refuseWhileRequestsAreLogged } from './lib/request-logging.js';

/**
 * The `providerId` this keyring writes into every encrypted data key.
 *
 * @example
 * ```ts
 * const gcpKeys = envelope.encryptedDataKeys.filter((edk) => edk.providerId === GCP_KMS_PROVIDER_ID);
 * ```
 */
export const GCP_KMS_PROVIDER_ID = 'gcp-kms';

type Int64Like = number | string | { toString(): string } | null | undefined;

/**
 * The part of `@google-cloud/kms`' `KeyManagementServiceClient` the keyring uses, so a test double or
 * a differently configured client fits.
 *
 * @example
 * ```ts
 * const client: GcpKmsClient = new KeyManagementServiceClient();
 * ```
 */
export interface GcpKmsClient {
  encrypt(request: {
    name: string;
    plaintext: Uint8Array;
    additionalAuthenticatedData: Uint8Array;
    plaintextCrc32c: { value: number };
    additionalAuthenticatedDataCrc32c: { value: number };
  }, options?: { timeout?: number }): Promise<readonly [{
    name?: string | null;
    ciphertext?: Uint8Array | string | null;
    ciphertextCrc32c?: { value?: Int64Like } | null;
    verifiedPlaintextCrc32c?: boolean | null;
    verifiedAdditionalAuthenticatedDataCrc32c?: boolean | null;
  }, ...unknown[]]>;
  decrypt(request: {
    name: string;
    ciphertext: Uint8Array;
    additionalAuthenticatedData: Uint8Array;
    ciphertextCrc32c: { value: number };
    additionalAuthenticatedDataCrc32c: { value: number };
  }, options?: { timeout?: number }): Promise<readonly [{
    plaintext?: Uint8Array | string | null;
    plaintextCrc32c?: { value?: Int64Like } | null;
  }, ...unknown[]]>;
}

/**
 * Options of {@link GcpKmsKeyring}.
 *
 * @example
 * ```ts
 * const options: GcpKmsKeyringOptions = {
 *   keyName: 'projects/p/locations/global/keyRings/s3crypt/cryptoKeys/kek',
 * };
 * ```
 */
export interface GcpKmsKeyringOptions {
  /** The CryptoKey resource name: `projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>` (no version). */
  readonly keyName: string;
  /** Defaults to `new KeyManagementServiceClient()` (Application Default Credentials). */
  readonly client?: GcpKmsClient | KeyManagementServiceClient;
  /**
   * How long one `onEncrypt` or `onDecrypt` may take, in milliseconds, retries included: each Cloud
   * KMS call gets the time left as its gRPC deadline. When it runs out the keyring rejects with
   * `ERR_KMS_UNAVAILABLE`. Default {@link GCP_KMS_DEFAULT_TIMEOUT_MS} (30 s).
   */
  readonly timeoutMs?: number;
}

/**
 * The default of {@link GcpKmsKeyringOptions.timeoutMs}: 30 seconds.
 *
 * @example
 * ```ts
 * new GcpKmsKeyring({ keyName, timeoutMs: GCP_KMS_DEFAULT_TIMEOUT_MS / 3 });
 * ```
 */
export const GCP_KMS_DEFAULT_TIMEOUT_MS = 30_000;


/**
 * Wraps s3crypt data keys with a Google Cloud KMS symmetric CryptoKey.
 *
 * Encrypt goes to the CryptoKey (its primary version); the version Cloud KMS used is recorded as the
 * encrypted data key's `keyId`, so after a rotation old objects still decrypt (Cloud KMS reads the
 * version from the ciphertext) and new ones name the new primary. The encryption context is passed
 * as `additionalAuthenticatedData`, and every request and response is checked with CRC32C as Google
 * documents, so corruption in transit is an error, never a wrong key.
 *
 * A request's `signal` makes the keyring stop at once and reject with the signal's `reason` (a
 * `DOMException` named `AbortError` unless the caller gave another); running out of `timeoutMs`
 * rejects with `ERR_KMS_UNAVAILABLE`. The client library cannot cancel a call through its promise
 * API, so an abandoned gRPC call ends when Cloud KMS answers or at its deadline.
 *
 * @example
 * ```ts
 * import { GcpKmsKeyring } from '@s3crypt/kms-gcp';
 *
 * const keyring = new GcpKmsKeyring({
 *   keyName: 'projects/my-project/locations/europe-west1/keyRings/s3crypt/cryptoKeys/kek',
 * });
 * const client = new EncryptingS3Client({ client: new S3Client({}), keyring });
 * ```
 */
export class GcpKmsKeyring implements Keyring {
  readonly keyName: string;
  readonly #client: () => GcpKmsClient;
  readonly #timeout: number;

  constructor(options: GcpKmsKeyringOptions) {
    if (typeof options?.keyName !== 'string' || !KEY_NAME.test(options.keyName)) {
      throw new TypeError(
        'GcpKmsKeyring: keyName must be a CryptoKey name, projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>',
      );
    }
    this.keyName = options.keyName;
    const timeoutMs = options.timeoutMs ?? GCP_KMS_DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('GcpKmsKeyring: timeoutMs must be a positive number of milliseconds');
    this.#timeout = timeoutMs;
    let client = options.client as GcpKmsClient | undefined;
    this.#client = () => (client ??= new KeyManagementServiceClient() as unknown as GcpKmsClient);
  }

  /** Every version of this keyring's CryptoKey, as its envelopes name them: the prefix `<keyName>/cryptoKeyVersions/`. */
  kekMatchers(): readonly KekMatcher[] {
    return [{ providerId: GCP_KMS_PROVIDER_ID, keyId: `${this.keyName}/cryptoKeyVersions/`, match: 'prefix' }];
  }

  async onEncrypt(request: EncryptRequest): Promise<EncryptResult> {
    return withDeadline(
      {
        signal: request.signal,
        timeoutMs: this.#timeout,
        onTimeout: (cause) => gcpTimeoutError(cause, this.keyName, 'encrypt'),
        discard: (late) => {
          if (request.dataKey === undefined) late.dataKey.fill(0);
        },
      },
      () => this.#encrypt(request, this.#deadline()),
    );
  }

  async onDecrypt(request: DecryptRequest): Promise<Uint8Array | undefined> {
    const own = request.encryptedDataKeys.filter(
      (edk) => edk.providerId === GCP_KMS_PROVIDER_ID && edk.keyId.startsWith(`${this.keyName}/cryptoKeyVersions/`),
    );
    if (own.length === 0) return undefined;
    return withDeadline(
      {
        signal: request.signal,
        timeoutMs: this.#timeout,
        onTimeout: (cause) => gcpTimeoutError(cause, this.keyName, 'decrypt'),
        discard: (late) => late?.fill(0),
      },
      (signal) => {
        const deadline = this.#deadline();
        return unwrapFirst(
          own,
          (edk) => this.#decrypt(edk, request, deadline),
          (error, edk) => mapGcpError(error, edk.keyId, 'decrypt'),
          signal,
        );
      },
    );
  }

  /** When an operation starting now must be over, as a `performance.now()` time. */
  #deadline(): number {
    return performance.now() + this.#timeout;
  }

  async #encrypt(request: EncryptRequest, deadline: number): Promise<EncryptResult> {
    refuseWhileRequestsAreLogged(this.keyName, 'encrypt');
    const dataKey = request.dataKey ?? randomBytes(DATA_KEY_LENGTH);
    const aad = serializeContext(request.context);
    try {
      const [response] = await this.#client().encrypt(
        {
          name: this.keyName,
          plaintext: dataKey,
          additionalAuthenticatedData: aad,
          plaintextCrc32c: { value: crc32c(dataKey) },
          additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
        },
        { timeout: timeLeft(deadline) },
      );
      const ciphertext = toBytes(response.ciphertext);
      if (!response.verifiedPlaintextCrc32c || !response.verifiedAdditionalAuthenticatedDataCrc32c) {
        throw corrupted(this.keyName, 'Cloud KMS did not verify the request checksums');
      }
      if (!ciphertext || !crcMatches(ciphertext, response.ciphertextCrc32c?.value)) {
        throw corrupted(this.keyName, 'the ciphertext checksum from Cloud KMS does not match');
      }
      const versionName = response.name ?? '';
      if (!versionName.startsWith(`${this.keyName}/cryptoKeyVersions/`)) {
        throw new KmsError('ERR_KMS_FAILED', this.keyName, `Cloud KMS answered with an unexpected key version for ${this.keyName}`);
      }
      const encryptedDataKey: EncryptedDataKey = { providerId: GCP_KMS_PROVIDER_ID, keyId: versionName, ciphertext };
      return { dataKey, encryptedDataKeys: [encryptedDataKey] };
    } catch (error) {
      if (!request.dataKey) dataKey.fill(0);
      throw mapGcpError(error, this.keyName, 'encrypt');
    }
  }


  async #decrypt(edk: EncryptedDataKey, request: DecryptRequest, deadline: number): Promise<Uint8Array> {
    refuseWhileRequestsAreLogged(this.keyName, 'decrypt');
    const aad = serializeContext(request.context);
    const [response] = await this.#client().decrypt(
      {
        name: this.keyName,
        ciphertext: edk.ciphertext,
        additionalAuthenticatedData: aad,
        ciphertextCrc32c: { value: crc32c(edk.ciphertext) },
        additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
      },
      { timeout: timeLeft(deadline) },
    );
    const plaintext = toBytes(response.plaintext);
    if (!plaintext || !crcMatches(plaintext, response.plaintextCrc32c?.value)) {
      plaintext?.fill(0);
      throw corrupted(edk.keyId, 'the plaintext checksum from Cloud KMS does not match');
    }
    if (plaintext.length !== DATA_KEY_LENGTH) {
      plaintext.fill(0);
      throw new KmsError('ERR_KMS_WRONG_KEY', edk.keyId, `the data key decrypted with Cloud KMS key ${edk.keyId} has the wrong length`);
    }
    return plaintext;
  }
}

/** Milliseconds until `deadline` (a `performance.now()` time), at least 1: a gRPC call's deadline. */
function timeLeft(deadline: number): number {
  return Math.max(1, Math.ceil(deadline - performance.now()));
}

const KEY_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

function toBytes(value: Uint8Array | string | null | undefined): Uint8Array | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? Buffer.from(value, 'base64') : value;
}

function crcMatches(data: Uint8Array, value: Int64Like): boolean {
  return value !== null && value !== undefined && Number(value.toString()) === crc32c(data);
}

function corrupted(keyId: string, what: string): KmsError {
  return new KmsError('ERR_KMS_FAILED', keyId, `${what} (Cloud KMS key ${keyId}): the request or response was corrupted in transit`);
}
