// What a failed object of a bulk operation (rotation, verification) reports: a stable code (an
// s3crypt error code, or the store's error name), a message safe to log, and whether trying again
// later can succeed (S3 Batch Operations' TemporaryFailure versus PermanentFailure).
import { S3CryptError } from '../errors.js';
import { quoteUntrusted } from '../untrusted-text.js';

/** s3crypt codes that a later attempt may not meet again. */
const RETRYABLE_CODES = new Set(['ERR_KMS_UNAVAILABLE', 'ERR_KMS_THROTTLED', 'ERR_OBJECT_CHANGED']);
/** The store's answers that mean "not now" (besides any 5xx). */
const RETRYABLE_NAMES = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed', 'ThrottlingException', 'TooManyRequestsException', 'TimeoutError']);
/** Node's network failures: no answer at all. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/**
 * Why one object of a bulk operation failed.
 *
 * @example
 * ```ts
 * const reason: FailureReason = { code: 'ERR_DECRYPTION_FAILED', message: 'decryption operation failed', retryable: false };
 * ```
 */
export interface FailureReason {
  /** An s3crypt error code (`ERR_…`), the store's error name (`AccessDenied`, `SlowDown`, …), or `ERR_UNKNOWN`. */
  readonly code: string;
  /** What went wrong; text that came from the store is quoted. */
  readonly message: string;
  /** A later attempt may succeed (throttling, a service or network failure, a concurrent write). */
  readonly retryable: boolean;
}

/**
 * The {@link FailureReason} of an error thrown while working on one object: the s3crypt code, or the
 * store's error name, with a message whose store-supplied text is quoted, and whether to retry.
 *
 * @example
 * ```ts
 * const step = (object: BulkObject) => copyOne(object).then(() => undefined, failureReason); // for forEachObject
 * ```
 */
export function failureReason(error: unknown): FailureReason {
  if (error instanceof S3CryptError) return { code: error.code, message: error.message, retryable: RETRYABLE_CODES.has(error.code) };
  const e = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = e.$metadata?.httpStatusCode;
  const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : typeof e.code === 'string' ? e.code : 'ERR_UNKNOWN';
  const retryable =
    RETRYABLE_NAMES.has(name) || (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) || e.$retryable !== undefined || (status !== undefined && status >= 500);
  const message = typeof e.message === 'string' ? quoteUntrusted(e.message) : 'unknown failure';
  return { code: quoteUntrusted(name), message, retryable };
}
