import { causeMessage, connectionFailureCode, KmsError, type KmsErrorCode } from '@s3crypt/client';

/** Which Key Vault call failed: decides whether a 400 means "wrong key" or a plain failure. */
export type AzureOperation = 'wrap' | 'unwrap' | 'resolve';

// The Azure SDK's own code for a request that never reached the vault.
const REQUEST_SEND_ERROR = 'REQUEST_SEND_ERROR';

interface RestErrorLike {
  name?: unknown;
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
}

/**
 * Maps an error from `@azure/keyvault-keys` (a `RestError`, a network error, an abort) to a {@link KmsError}
 * quoting its message, with the original as `cause`.
 */
export function mapAzureError(error: unknown, keyId: string, operation: AzureOperation): KmsError {
  if (error instanceof KmsError) return error;
  const code = classify(error as RestErrorLike, operation);
  return new KmsError(code, keyId, `${describe(code)} (Azure Key Vault key ${keyId}, ${operation}): ${causeMessage(error)}`, { cause: error });
}

function classify(error: RestErrorLike, operation: AzureOperation): KmsErrorCode {
  const status = typeof error?.statusCode === 'number' ? error.statusCode : undefined;
  const code = typeof error?.code === 'string' ? error.code : '';
  const message = typeof error?.message === 'string' ? error.message : '';
  if (status === undefined) {
    if (connectionFailureCode(error) || code === REQUEST_SEND_ERROR || error?.name === 'AbortError' || /ECONNREFUSED|socket hang up|timed? ?out/i.test(message)) {
      return 'ERR_KMS_UNAVAILABLE';
    }
    // The SDK checks a fetched key's validity dates locally before calling the vault.
    if (/^Key .* (expired at|can't be used before)/.test(message)) return 'ERR_KMS_KEY_DISABLED';
    return 'ERR_KMS_FAILED';
  }
  if (status === 401) return 'ERR_KMS_ACCESS_DENIED';
  if (status === 403) return /disabled|not (permitted|allowed)/i.test(message) ? 'ERR_KMS_KEY_DISABLED' : 'ERR_KMS_ACCESS_DENIED';
  if (status === 404) return 'ERR_KMS_KEY_NOT_FOUND';
  if (status === 429) return 'ERR_KMS_THROTTLED';
  if (status === 408 || status >= 500) return 'ERR_KMS_UNAVAILABLE';
  if ((status === 400 || status === 422) && operation === 'unwrap') return 'ERR_KMS_WRONG_KEY';
  return 'ERR_KMS_FAILED';
}

function describe(code: KmsErrorCode): string {
  switch (code) {
    case 'ERR_KMS_UNAVAILABLE':
      return 'Key Vault is unreachable or failed';
    case 'ERR_KMS_ACCESS_DENIED':
      return 'Key Vault denied access to the key';
    case 'ERR_KMS_KEY_DISABLED':
      return 'the key (version) is disabled';
    case 'ERR_KMS_KEY_NOT_FOUND':
      return 'the key (version) does not exist';
    case 'ERR_KMS_THROTTLED':
      return 'Key Vault throttled the request';
    case 'ERR_KMS_WRONG_KEY':
      return 'the wrapped data key cannot be unwrapped with this key';
    case 'ERR_KMS_FAILED':
      return 'Key Vault operation failed';
  }
}
