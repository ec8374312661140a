import { S3CryptError, type S3CryptErrorCode } from '@s3crypt/client';

/**
 * Why a branch key could not be used.
 *
 * - `ERR_BRANCH_KEY_NOT_FOUND`: the key store holds no such branch key, or not the version an object
 *   names (deleted, or hidden by the store).
 * - `ERR_BRANCH_KEY_INVALID`: the stored branch key is malformed, or its protector refused to unwrap
 *   it under its name (edited, replaced or moved in the store): the store is not trusted, so this
 *   fails closed. `cause` carries the protector's error.
 * - `ERR_BRANCH_KEY_STORE_FAILED`: the key store bucket refused or failed a request (access denied,
 *   network), a rotation lost the race for a version number too often, or the cache is too small for
 *   the versions in use. `cause` carries the S3 error.
 *
 * A protector (KMS) that is unreachable, throttled or disabled fails with its own `KmsError` instead.
 *
 * @example
 * ```ts
 * if (err instanceof BranchKeyError && err.code === 'ERR_BRANCH_KEY_INVALID') alertSecurity(err.branchKeyId);
 * ```
 */
export type BranchKeyErrorCode = Extract<S3CryptErrorCode, `ERR_BRANCH_KEY_${string}`>;

/**
 * A branch key could not be created, found or unwrapped. `branchKeyId` (and `version`, when one was
 * involved) name it; the message never contains key material.
 *
 * @example
 * ```ts
 * await store.rotateBranchKey('orders').catch((err: unknown) => {
 *   if (err instanceof BranchKeyError && err.code === 'ERR_BRANCH_KEY_NOT_FOUND') return store.createBranchKey('orders');
 *   throw err;
 * });
 * ```
 */
export class BranchKeyError extends S3CryptError {
  declare readonly code: BranchKeyErrorCode;
  readonly branchKeyId: string;
  readonly version: number | undefined;

  constructor(code: BranchKeyErrorCode, branchKeyId: string, version: number | undefined, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.branchKeyId = branchKeyId;
    this.version = version;
  }
}
