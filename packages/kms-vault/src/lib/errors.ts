import { causeMessage, connectionFailureCode, KmsError, type KmsErrorCode } from '@s3crypt/client';

const REASONS: Readonly<Record<KmsErrorCode, string>> = {
  ERR_KMS_UNAVAILABLE: 'Vault could not be reached or is sealed',
  ERR_KMS_ACCESS_DENIED: 'permission denied',
  ERR_KMS_KEY_DISABLED: 'the key (or this key version) is disabled',
  ERR_KMS_KEY_NOT_FOUND: 'the key does not exist',
  ERR_KMS_THROTTLED: 'the request was rate limited',
  ERR_KMS_WRONG_KEY: 'the ciphertext was not made by this key with this context',
  ERR_KMS_FAILED: 'the request failed',
};

interface ErrorShape {
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
  message?: unknown;
  response?: { statusCode?: unknown; status?: unknown };
}

/** What a Transit operation was doing, which decides how a 400 is read. */
export type TransitOperation = 'encrypt' | 'datakey' | 'decrypt';

/**
 * Which s3crypt code a failed Transit request maps onto. Vault reports most key problems as HTTP 400
 * with a message, so the message decides between disabled, missing and wrong key.
 */
export function classifyVaultFailure(error: unknown, operation: TransitOperation): { code: KmsErrorCode; label: string } {
  const network = connectionFailureCode(error);
  if (network) return { code: 'ERR_KMS_UNAVAILABLE', label: network };
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const status = shape.response?.statusCode ?? shape.response?.status;
  const message = typeof shape.message === 'string' ? shape.message : '';
  // The message is Vault's own text: it is quoted in the KmsError's message, never used raw.
  const label = typeof status === 'number' ? `HTTP ${status}` : 'no response';
  if (status === 403 || status === 401) return { code: 'ERR_KMS_ACCESS_DENIED', label };
  if (status === 429) return { code: 'ERR_KMS_THROTTLED', label };
  if (typeof status === 'number' && status >= 500) return { code: 'ERR_KMS_UNAVAILABLE', label };
  // 404: nothing is mounted at the path (or no such key, on some versions).
  if (status === 404) return { code: 'ERR_KMS_KEY_NOT_FOUND', label };
  if (status === 400) {
    if (/soft-deleted|disallowed by policy|not allowed by policy|disabled/i.test(message)) {
      return { code: 'ERR_KMS_KEY_DISABLED', label };
    }
    if (/key not found|no such key/i.test(message)) return { code: 'ERR_KMS_KEY_NOT_FOUND', label };
    if (operation === 'decrypt') return { code: 'ERR_KMS_WRONG_KEY', label };
  }
  return { code: 'ERR_KMS_FAILED', label };
}

/**
 * Wraps a failed Transit request in a {@link KmsError} naming the key and quoting the root cause's
 * message, with the original as `cause`. A `KmsError` (of any copy of `@s3crypt/client`) is returned as it is.
 */
export function toKmsError(error: unknown, keyId: string, operation: TransitOperation): KmsError {
  if (error instanceof KmsError) return error;
  const { code, label } = classifyVaultFailure(error, operation);
  return new KmsError(code, keyId, `Vault Transit ${operation} with key ${keyId} failed: ${REASONS[code]} (${label}: ${causeMessage(error)})`, {
    cause: error,
  });
}
