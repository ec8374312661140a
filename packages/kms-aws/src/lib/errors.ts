import { causeMessage, connectionFailureCode, KmsError, type KmsErrorCode } from '@s3crypt/client';

/** KMS exception names, as `error.name` carries them, and what each means for s3crypt. */
const EXCEPTION_CODES: Readonly<Record<string, KmsErrorCode>> = {
  DisabledException: 'ERR_KMS_KEY_DISABLED',
  KMSInvalidStateException: 'ERR_KMS_KEY_DISABLED',
  NotFoundException: 'ERR_KMS_KEY_NOT_FOUND',
  AccessDeniedException: 'ERR_KMS_ACCESS_DENIED',
  UnrecognizedClientException: 'ERR_KMS_ACCESS_DENIED',
  InvalidSignatureException: 'ERR_KMS_ACCESS_DENIED',
  IncompleteSignature: 'ERR_KMS_ACCESS_DENIED',
  ExpiredTokenException: 'ERR_KMS_ACCESS_DENIED',
  CredentialsProviderError: 'ERR_KMS_ACCESS_DENIED',
  InvalidCiphertextException: 'ERR_KMS_WRONG_KEY',
  IncorrectKeyException: 'ERR_KMS_WRONG_KEY',
  InvalidKeyUsageException: 'ERR_KMS_WRONG_KEY',
  ThrottlingException: 'ERR_KMS_THROTTLED',
  LimitExceededException: 'ERR_KMS_THROTTLED',
  KMSInternalException: 'ERR_KMS_UNAVAILABLE',
  DependencyTimeoutException: 'ERR_KMS_UNAVAILABLE',
  KeyUnavailableException: 'ERR_KMS_UNAVAILABLE',
  ServiceUnavailableException: 'ERR_KMS_UNAVAILABLE',
  TimeoutError: 'ERR_KMS_UNAVAILABLE',
  RequestTimeout: 'ERR_KMS_UNAVAILABLE',
};

const REASONS: Readonly<Record<KmsErrorCode, string>> = {
  ERR_KMS_UNAVAILABLE: 'AWS KMS could not be reached',
  ERR_KMS_ACCESS_DENIED: 'access was denied',
  ERR_KMS_KEY_DISABLED: 'the key is disabled or pending deletion',
  ERR_KMS_KEY_NOT_FOUND: 'the key does not exist',
  ERR_KMS_THROTTLED: 'the request was throttled',
  ERR_KMS_WRONG_KEY: 'the ciphertext was not made by this key under this encryption context',
  ERR_KMS_FAILED: 'the request failed',
};

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  errno?: unknown;
  cause?: unknown;
  errors?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Which s3crypt code a failure of the KMS client maps onto, and a short vendor label for the message. */
export function classifyKmsFailure(error: unknown): { code: KmsErrorCode; label: string } {
  const network = connectionFailureCode(error);
  if (network) return { code: 'ERR_KMS_UNAVAILABLE', label: network };
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  const mapped = EXCEPTION_CODES[name];
  if (mapped) return { code: mapped, label: name };
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number') {
    if (status === 429) return { code: 'ERR_KMS_THROTTLED', label: `${name}, HTTP ${status}` };
    if (status >= 500) return { code: 'ERR_KMS_UNAVAILABLE', label: `${name}, HTTP ${status}` };
    if (status === 401 || status === 403) return { code: 'ERR_KMS_ACCESS_DENIED', label: `${name}, HTTP ${status}` };
  }
  return { code: 'ERR_KMS_FAILED', label: name };
}

/**
 * Wraps a failure of an AWS KMS call in a {@link KmsError} that names the key and the operation and
 * quotes the SDK's message, keeping the SDK's error as `cause`. A `KmsError` (of any copy of
 * `@s3crypt/client`) is returned as it is.
 */
export function toKmsError(error: unknown, keyId: string, operation: string): KmsError {
  if (error instanceof KmsError) return error;
  const { code, label } = classifyKmsFailure(error);
  return new KmsError(code, keyId, `AWS KMS ${operation} with key ${keyId} failed: ${REASONS[code]} (${label}: ${causeMessage(error)})`, {
    cause: error,
  });
}
