// The exit codes scripts rely on (README "Exit codes"), and how an error maps onto one.
import { S3CryptError } from '@s3crypt/client';

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

const INTEGRITY_CODES: ReadonlySet<string> = new Set([
  'ERR_NOT_ENCRYPTED',
  'ERR_ENVELOPE_MALFORMED',
  'ERR_ENVELOPE_TOO_LARGE',
  'ERR_UNSUPPORTED_FORMAT_VERSION',
  'ERR_KEY_COMMITMENT_MISMATCH',
  'ERR_DECRYPTION_FAILED',
  'ERR_OBJECT_TRUNCATED',
  'ERR_OBJECT_MALFORMED',
  'ERR_BODY_LENGTH_MISMATCH',
  'ERR_HEADER_AUTH_FAILED',
  'ERR_SIGNATURE_INVALID',
  'ERR_OBJECT_ID_MISMATCH',
  'ERR_RESPONSE_TOO_LARGE',
  'ERR_FORMAT_VERSION_NOT_ALLOWED',
  'ERR_UNSIGNED_OBJECT',
  'ERR_AUDIT_LOG_CORRUPT',
]);

const KEY_CODES: ReadonlySet<string> = new Set([
  'ERR_KEY_NOT_ALLOWED',
  'ERR_TOO_MANY_ENCRYPTED_KEYS',
  'ERR_NO_MATCHING_KEY',
  'ERR_KEY_UNWRAP_FAILED',
  'ERR_KEY_WRAP_FAILED',
  'ERR_CUSTOMER_KEY_REQUIRED',
  'ERR_CUSTOMER_KEY_MISMATCH',
  'ERR_CUSTOMER_KEY_NOT_APPLICABLE',
  'ERR_BRANCH_KEY_NOT_FOUND',
  'ERR_BRANCH_KEY_INVALID',
  'ERR_BRANCH_KEY_STORE_FAILED',
]);

/** S3 error names (and the local ENOENT) that mean "no such thing". */
const NOT_FOUND_NAMES: ReadonlySet<string> = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchVersion', 'NoSuchUpload']);

/** The exit code an error of a single-object command ends the process with. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  // The audit package's AuditLogError is an S3CryptError too.
  if (error instanceof S3CryptError) {
    if (error.code.startsWith('ERR_KMS_')) return ExitCode.Key;
    if (KEY_CODES.has(error.code)) return ExitCode.Key;
    if (INTEGRITY_CODES.has(error.code)) return ExitCode.Integrity;
    return ExitCode.Unexpected;
  }
  const named = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  if (typeof named?.name === 'string' && NOT_FOUND_NAMES.has(named.name)) return ExitCode.NotFound;
  if (named?.$metadata?.httpStatusCode === 404) return ExitCode.NotFound;
  if (named?.code === 'ENOENT') return ExitCode.NotFound;
  return ExitCode.Unexpected;
}
