// The exit codes scripts rely on (README "Exit codes"), and how an error maps onto one.
import { S3CryptError, type S3CryptErrorCode } from '@s3crypt/client';

/**
 * The documented exit codes of `s3crypt`.
 *
 * @example
 * ```ts
 * if ((await main(['verify', 's3://b/k'])) === ExitCode.Integrity) quarantine('b/k');
 * ```
 */
export const ExitCode = {
  Success: 0,
  Unexpected: 1,
  Usage: 2,
  NotFound: 3,
  Integrity: 4,
  Key: 5,
  PartialFailure: 6,
} as const;
/** One of {@link ExitCode}'s values. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI itself detected, with the exit code it ends the process with. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A usage error: bad arguments, a bad key spec, a refused overwrite. */
export function usageError(message: string): CliError {
  return new CliError(ExitCode.Usage, message);
}

// Every S3CryptErrorCode, placed deliberately: a code added to the union without a place here fails
// to compile (and the unit test that parses the union from errors.ts fails too).
const EXIT_CODE_OF_ERROR_CODE: Readonly<Record<S3CryptErrorCode, ExitCode>> = {
  // The stored object (or audit log) failed authentication or is not what it claims to be.
  ERR_NOT_ENCRYPTED: ExitCode.Integrity,
  ERR_ENVELOPE_MALFORMED: ExitCode.Integrity,
  ERR_ENVELOPE_TOO_LARGE: ExitCode.Integrity,
  ERR_UNSUPPORTED_FORMAT_VERSION: ExitCode.Integrity,
  ERR_KEY_COMMITMENT_MISMATCH: ExitCode.Integrity,
  ERR_DECRYPTION_FAILED: ExitCode.Integrity,
  ERR_OBJECT_TRUNCATED: ExitCode.Integrity,
  ERR_OBJECT_MALFORMED: ExitCode.Integrity,
  ERR_BODY_LENGTH_MISMATCH: ExitCode.Integrity,
  ERR_HEADER_AUTH_FAILED: ExitCode.Integrity,
  ERR_SIGNATURE_INVALID: ExitCode.Integrity,
  ERR_OBJECT_ID_MISMATCH: ExitCode.Integrity,
  ERR_RESPONSE_TOO_LARGE: ExitCode.Integrity,
  ERR_FORMAT_VERSION_NOT_ALLOWED: ExitCode.Integrity,
  ERR_UNSIGNED_OBJECT: ExitCode.Integrity,
  ERR_AUDIT_LOG_CORRUPT: ExitCode.Integrity,
  // Keys: the key policy, keyrings, customer keys, key services, branch keys.
  ERR_KEY_NOT_ALLOWED: ExitCode.Key,
  ERR_TOO_MANY_ENCRYPTED_KEYS: ExitCode.Key,
  ERR_NO_MATCHING_KEY: ExitCode.Key,
  ERR_KEY_UNWRAP_FAILED: ExitCode.Key,
  ERR_KEY_WRAP_FAILED: ExitCode.Key,
  ERR_CUSTOMER_KEY_REQUIRED: ExitCode.Key,
  ERR_CUSTOMER_KEY_MISMATCH: ExitCode.Key,
  ERR_CUSTOMER_KEY_NOT_APPLICABLE: ExitCode.Key,
  ERR_KMS_UNAVAILABLE: ExitCode.Key,
  ERR_KMS_ACCESS_DENIED: ExitCode.Key,
  ERR_KMS_KEY_DISABLED: ExitCode.Key,
  ERR_KMS_KEY_NOT_FOUND: ExitCode.Key,
  ERR_KMS_THROTTLED: ExitCode.Key,
  ERR_KMS_WRONG_KEY: ExitCode.Key,
  ERR_KMS_FAILED: ExitCode.Key,
  ERR_BRANCH_KEY_NOT_FOUND: ExitCode.Key,
  ERR_BRANCH_KEY_INVALID: ExitCode.Key,
  ERR_BRANCH_KEY_STORE_FAILED: ExitCode.Key,
  // An S3 Encryption Client object this client may not read (no s3ec option), or a range of one that cannot be authenticated.
  ERR_S3EC_DISABLED: ExitCode.Integrity,
  ERR_S3EC_RANGE_UNAUTHENTICATED: ExitCode.Integrity,
  // The keyring cannot wrap a data key the way the S3 Encryption Client format names (a key setup matter).
  ERR_S3EC_WRAPPING_UNSUPPORTED: ExitCode.Key,
  // Neither: a concurrent writer (a rerun handles it), multipart bookkeeping, the audit sink.
  ERR_OBJECT_CHANGED: ExitCode.Unexpected,
  ERR_UNKNOWN_UPLOAD: ExitCode.Unexpected,
  ERR_UNKNOWN_PART: ExitCode.Unexpected,
  ERR_PART_OUT_OF_ORDER: ExitCode.Unexpected,
  ERR_UPLOAD_BROKEN: ExitCode.Unexpected,
  ERR_AUDIT_FAILED: ExitCode.Unexpected,
  ERR_AUDIT_LOG_CLOSED: ExitCode.Unexpected,
  ERR_AUDIT_LOG_FAILED: ExitCode.Unexpected,
  ERR_AUDIT_LOG_UPLOAD_FAILED: ExitCode.Unexpected,
};

/** S3 error names (and the local ENOENT) that mean "no such thing". */
const NOT_FOUND_NAMES: ReadonlySet<string> = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchVersion', 'NoSuchUpload']);

/** The exit code an error of a single-object command ends the process with. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  // The audit package's AuditLogError is an S3CryptError too.
  if (error instanceof S3CryptError) {
    if (Object.hasOwn(EXIT_CODE_OF_ERROR_CODE, error.code)) return EXIT_CODE_OF_ERROR_CODE[error.code];
    // A newer copy of the client (a KMS package's own) may throw a code this table does not know yet.
    return (error.code as string).startsWith('ERR_KMS_') ? ExitCode.Key : ExitCode.Unexpected;
  }
  const named = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  if (typeof named?.name === 'string' && NOT_FOUND_NAMES.has(named.name)) return ExitCode.NotFound;
  if (named?.$metadata?.httpStatusCode === 404) return ExitCode.NotFound;
  if (named?.code === 'ENOENT') return ExitCode.NotFound;
  return ExitCode.Unexpected;
}
