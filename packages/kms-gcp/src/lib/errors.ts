import { causeMessage, KmsError, type KmsErrorCode } from '@s3crypt/client';

/** Which Cloud KMS call failed: decides whether INVALID_ARGUMENT means "wrong key" or a plain failure. */
export type GcpOperation = 'encrypt' | 'decrypt';

// gRPC status codes (google.rpc.Code).
const CANCELLED = 1;
const INVALID_ARGUMENT = 3;
const DEADLINE_EXCEEDED = 4;
const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;
const RESOURCE_EXHAUSTED = 8;
const FAILED_PRECONDITION = 9;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

/**
 * Maps an error from `@google-cloud/kms` (a gRPC `ServiceError` or `GoogleError`) to a {@link KmsError}
 * quoting its message, with the original as `cause`.
 */
export function mapGcpError(error: unknown, keyName: string, operation: GcpOperation): KmsError {
  if (error instanceof KmsError) return error;
  const code = classify(error, operation);
  return new KmsError(code, keyName, `${describe(code)} (Cloud KMS key ${keyName}, ${operation}): ${causeMessage(error)}`, { cause: error });
}

/** The {@link KmsError} of an operation that ran out of `timeoutMs`: `ERR_KMS_UNAVAILABLE`, the timeout as `cause`. */
export function gcpTimeoutError(cause: unknown, keyName: string, operation: GcpOperation): KmsError {
  return new KmsError('ERR_KMS_UNAVAILABLE', keyName, `${describe('ERR_KMS_UNAVAILABLE')} (Cloud KMS key ${keyName}, ${operation})`, { cause });
}

function classify(error: unknown, operation: GcpOperation): KmsErrorCode {
  const status = (error as { code?: unknown } | undefined)?.code;
  switch (status) {
    // CANCELLED: the keyring never cancels its own calls, so it means the server cut the call off.
    case CANCELLED:
    case UNAVAILABLE:
    case DEADLINE_EXCEEDED:
      return 'ERR_KMS_UNAVAILABLE';
    case PERMISSION_DENIED:
    case UNAUTHENTICATED:
      return 'ERR_KMS_ACCESS_DENIED';
    case FAILED_PRECONDITION:
      return 'ERR_KMS_KEY_DISABLED';
    case NOT_FOUND:
      return 'ERR_KMS_KEY_NOT_FOUND';
    case RESOURCE_EXHAUSTED:
      return 'ERR_KMS_THROTTLED';
    case INVALID_ARGUMENT:
      return operation === 'decrypt' ? 'ERR_KMS_WRONG_KEY' : 'ERR_KMS_FAILED';
    default:
      return 'ERR_KMS_FAILED';
  }
}

function describe(code: KmsErrorCode): string {
  switch (code) {
    case 'ERR_KMS_UNAVAILABLE':
      return 'Cloud KMS is unreachable or did not answer in time';
    case 'ERR_KMS_ACCESS_DENIED':
      return 'Cloud KMS denied access to the key';
    case 'ERR_KMS_KEY_DISABLED':
      return 'the key version is disabled or destroyed';
    case 'ERR_KMS_KEY_NOT_FOUND':
      return 'the key does not exist';
    case 'ERR_KMS_THROTTLED':
      return 'Cloud KMS quota exceeded';
    case 'ERR_KMS_WRONG_KEY':
      return 'the wrapped data key cannot be decrypted with this key and encryption context';
    case 'ERR_KMS_FAILED':
      return 'Cloud KMS operation failed';
  }
}
