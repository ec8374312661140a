import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { AuditLogError } from '@s3crypt/audit';
import { DecryptionError, KmsError, S3CryptError, type S3CryptErrorCode } from '@s3crypt/client';
import { CliError, ExitCode, exitCodeOf, usageError } from '../src/exit-codes.js';

// The expected exit code of every S3CryptErrorCode, written out: 4 when the stored object (or audit
// log) failed authentication, 5 for keys, key policy, customer keys, key services and branch keys.
const EXPECTED: Record<S3CryptErrorCode, ExitCode> = {
  ERR_NOT_ENCRYPTED: 4,
  ERR_ENVELOPE_MALFORMED: 4,
  ERR_ENVELOPE_TOO_LARGE: 4,
  ERR_UNSUPPORTED_FORMAT_VERSION: 4,
  ERR_KEY_COMMITMENT_MISMATCH: 4,
  ERR_DECRYPTION_FAILED: 4,
  ERR_OBJECT_TRUNCATED: 4,
  ERR_OBJECT_MALFORMED: 4,
  ERR_BODY_LENGTH_MISMATCH: 4,
  ERR_HEADER_AUTH_FAILED: 4,
  ERR_SIGNATURE_INVALID: 4,
  ERR_OBJECT_ID_MISMATCH: 4,
  ERR_RESPONSE_TOO_LARGE: 4,
  ERR_OBJECT_CHANGED: 1,
  ERR_KEY_NOT_ALLOWED: 5,
  ERR_TOO_MANY_ENCRYPTED_KEYS: 5,
  ERR_FORMAT_VERSION_NOT_ALLOWED: 4,
  ERR_UNSIGNED_OBJECT: 4,
  ERR_NO_MATCHING_KEY: 5,
  ERR_KEY_UNWRAP_FAILED: 5,
  ERR_KEY_WRAP_FAILED: 5,
  ERR_CUSTOMER_KEY_REQUIRED: 5,
  ERR_CUSTOMER_KEY_MISMATCH: 5,
  ERR_CUSTOMER_KEY_NOT_APPLICABLE: 5,
  ERR_UNKNOWN_UPLOAD: 1,
  ERR_UNKNOWN_PART: 1,
  ERR_KMS_UNAVAILABLE: 5,
  ERR_KMS_ACCESS_DENIED: 5,
  ERR_KMS_KEY_DISABLED: 5,
  ERR_KMS_KEY_NOT_FOUND: 5,
  ERR_KMS_THROTTLED: 5,
  ERR_KMS_WRONG_KEY: 5,
  ERR_KMS_FAILED: 5,
  ERR_AUDIT_FAILED: 1,
  ERR_AUDIT_LOG_CLOSED: 1,
  ERR_AUDIT_LOG_FAILED: 1,
  ERR_AUDIT_LOG_CORRUPT: 4,
  ERR_AUDIT_LOG_UPLOAD_FAILED: 1,
  ERR_BRANCH_KEY_NOT_FOUND: 5,
  ERR_BRANCH_KEY_INVALID: 5,
  ERR_BRANCH_KEY_STORE_FAILED: 5,
  ERR_S3EC_DISABLED: 4,
  ERR_S3EC_RANGE_UNAUTHENTICATED: 4,
  ERR_S3EC_WRAPPING_UNSUPPORTED: 5,
  ERR_PART_OUT_OF_ORDER: 1,
  ERR_UPLOAD_BROKEN: 1,
};

/** The members of the S3CryptErrorCode union, read from the client's source. */
function codesInErrorsTs(): string[] {
  const source = readFileSync(new URL('../../client/src/errors.ts', import.meta.url), 'utf8');
  const union = /export type S3CryptErrorCode =([\s\S]*?);/.exec(source)?.[1];
  if (!union) throw new Error('S3CryptErrorCode not found in packages/client/src/errors.ts');
  return [...union.replace(/\/\/.*$/gm, '').matchAll(/'([A-Z0-9_]+)'/g)].map((match) => match[1] as string);
}

describe('exitCodeOf', () => {
  it('places every code of S3CryptErrorCode: a new code must be given its exit code here and in exit-codes.ts', () => {
    const codes = codesInErrorsTs();
    expect(codes.length).toBeGreaterThan(30);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('maps every S3CryptError code onto its documented exit code', () => {
    for (const [code, expected] of Object.entries(EXPECTED)) {
      expect(exitCodeOf(new S3CryptError(code as S3CryptErrorCode, 'x')), code).toBe(expected);
    }
  });

  it('maps the subclasses the same way', () => {
    expect(exitCodeOf(new DecryptionError('ERR_DECRYPTION_FAILED'))).toBe(ExitCode.Integrity);
    expect(exitCodeOf(new KmsError('ERR_KMS_THROTTLED', 'arn:aws:kms:…', 'slow down'))).toBe(ExitCode.Key);
    expect(exitCodeOf(new AuditLogError('ERR_AUDIT_LOG_CORRUPT', 'record 7 does not chain'))).toBe(ExitCode.Integrity);
    expect(exitCodeOf(new AuditLogError('ERR_AUDIT_LOG_CLOSED', 'closed'))).toBe(ExitCode.Unexpected);
  });

  it('a code this release does not know (from a newer copy of the client) is unexpected, or a key failure for a KMS code', () => {
    expect(exitCodeOf(new S3CryptError('ERR_SOMETHING_NEW' as S3CryptErrorCode, 'x'))).toBe(ExitCode.Unexpected);
    expect(exitCodeOf(new S3CryptError('ERR_KMS_SOMETHING_NEW' as S3CryptErrorCode, 'x'))).toBe(ExitCode.Key);
    // Inherited property names are not codes.
    expect(exitCodeOf(new S3CryptError('toString' as S3CryptErrorCode, 'x'))).toBe(ExitCode.Unexpected);
  });

  it('S3 "not found" errors, as the SDK shapes them, are exit 3', () => {
    for (const error of [{ name: 'NoSuchKey' }, { name: 'NotFound' }, { name: 'NoSuchBucket' }, { name: 'NoSuchVersion' }, { name: 'NoSuchUpload' }, { $metadata: { httpStatusCode: 404 } }, { name: 'Whatever', $metadata: { httpStatusCode: 404 } }]) {
      expect(exitCodeOf(error), JSON.stringify(error)).toBe(ExitCode.NotFound);
    }
    expect(exitCodeOf(new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 } }))).toBe(ExitCode.NotFound);
  });

  it('a missing local file (ENOENT) is exit 3', () => {
    const error = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT' });
    expect(exitCodeOf(error)).toBe(ExitCode.NotFound);
    expect(exitCodeOf({ code: 'ENOENT' })).toBe(ExitCode.NotFound);
  });

  it('a CliError ends with its own code', () => {
    for (const code of Object.values(ExitCode)) expect(exitCodeOf(new CliError(code, 'x'))).toBe(code);
    expect(exitCodeOf(usageError('bad'))).toBe(ExitCode.Usage);
  });

  it('anything else is exit 1', () => {
    const others: unknown[] = [
      new Error('boom'),
      new TypeError('misuse'),
      { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } },
      { $metadata: { httpStatusCode: 500 } },
      { code: 'EACCES' },
      { name: 'S3CryptError', code: 'ERR_DECRYPTION_FAILED' }, // not an S3CryptError, only shaped like one
      'a string',
      42,
      null,
      undefined,
    ];
    for (const error of others) expect(exitCodeOf(error), String(error)).toBe(ExitCode.Unexpected);
  });
});
