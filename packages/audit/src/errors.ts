import { S3CryptError, type S3CryptErrorCode } from '@s3crypt/client';

/**
 * Why the tamper-evident log refused to work.
 *
 * - `ERR_AUDIT_LOG_CLOSED`: `write` after `close`.
 * - `ERR_AUDIT_LOG_FAILED`: a write or fsync failed; what reached the disk is unknown, so the log refuses
 *   every later write (fail closed) until it is reopened, which recovers the chain from the files.
 * - `ERR_AUDIT_LOG_CORRUPT`: on open, the newest segment is not a well-formed log; nothing is appended to it.
 * - `ERR_AUDIT_LOG_UPLOAD_FAILED`: a sealed segment could not be stored in the bucket (it stays in the
 *   local directory and is retried).
 *
 * @example
 * ```ts
 * if (err instanceof AuditLogError && err.code === 'ERR_AUDIT_LOG_FAILED') page('audit log down');
 * ```
 */
export type AuditLogErrorCode = Extract<S3CryptErrorCode, `ERR_AUDIT_LOG_${string}`>;

/**
 * A failure of the tamper-evident log: an `S3CryptError` with a stable `code`; the message never contains event content.
 *
 * @example
 * ```ts
 * await log.write(event).catch((err: unknown) => {
 *   if (err instanceof AuditLogError) metrics.increment(err.code);
 *   throw err;
 * });
 * ```
 */
export class AuditLogError extends S3CryptError {
  declare readonly code: AuditLogErrorCode;

  constructor(code: AuditLogErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
