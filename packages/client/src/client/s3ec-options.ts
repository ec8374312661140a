// The client's `s3ec` option: reading and writing objects in the AWS S3 Encryption Client's format
// is an explicit opt-in, with the official clients' commitment policy and their legacy switches.

/**
 * The official clients' commitment policy, by the same three names:
 * - `require-encrypt-require-decrypt` (default): only key-committing objects (S3EC format V3) are read;
 * - `require-encrypt-allow-decrypt`: V2 objects (AES-GCM without key commitment) are read too;
 * - `forbid-encrypt-allow-decrypt`: as the previous, for reading (s3crypt writes S3EC V3 only).
 */
export type S3ecCommitmentPolicy = 'require-encrypt-require-decrypt' | 'require-encrypt-allow-decrypt' | 'forbid-encrypt-allow-decrypt';

/**
 * How objects are written in the AWS S3 Encryption Client's format V3.
 *
 * @example
 * ```ts
 * const write: S3ecWriteOptions = { instructionFile: true };
 * ```
 */
export interface S3ecWriteOptions {
  /**
   * Put the wrapped key, its wrapping and the encryption context (or material description) in
   * `<key>.instruction` instead of the object's metadata, as the official clients' instruction-file
   * mode lays it out; the object keeps `x-amz-c`, `x-amz-d`, `x-amz-i`. The instruction file is
   * written first, then the object. Conditional writes (`IfMatch`, `IfNoneMatch`) are refused in
   * this mode: two objects cannot be written atomically. Default false.
   */
  readonly instructionFile?: boolean;
}

/**
 * Reading objects written by the AWS S3 Encryption Client (Java, Go, Python, .NET, Ruby, C++, PHP).
 * The client's keyring must unwrap their data keys (`AwsKmsKeyring` for `kms+context`,
 * `S3ecAesKeyring`, `S3ecRsaKeyring`), and its key policy applies to them as to any object.
 *
 * @example
 * ```ts
 * const client = new EncryptingS3Client({ client: s3, keyring: new AwsKmsKeyring({ keyId: arn }), s3ec: { commitmentPolicy: 'require-encrypt-allow-decrypt' } });
 * ```
 */
export interface S3ecOptions {
  /**
   * Write every new object of this client (PutObject, and multipart uploads such as lib-storage's
   * `Upload`) in S3EC format V3 instead of s3crypt's format, so that the official clients (Java, Go,
   * Python, …) read them: `true`, or `{ instructionFile: true }`. A command can choose otherwise with
   * `withS3Crypt(command, { s3ecWrite })`. The keyring must produce one data key wrapped by AWS KMS
   * (`AwsKmsKeyring`), `S3ecAesKeyring` or `S3ecRsaKeyring`; anything else is refused with
   * `ERR_S3EC_WRAPPING_UNSUPPORTED` before anything is stored. Multipart parts are encrypted in order,
   * one stream (see docs/INTEROP.md, "Writing S3EC V3"). Default false.
   */
  readonly write?: boolean | S3ecWriteOptions;
  /** Which S3EC objects may be read. Default `require-encrypt-require-decrypt` (V3 only). */
  readonly commitmentPolicy?: S3ecCommitmentPolicy;
  /**
   * V1 objects encrypted with AES-CBC (no authentication at all) and the legacy key wrappings
   * (`AESWrap`, `kms`, RSA-OAEP-SHA256): never by default, as the official clients'
   * `enableLegacyUnauthenticatedModes` / `enableLegacyWrappingAlgorithms`. Also needs a commitment
   * policy that allows decrypting non-committing objects.
   */
  readonly legacyUnauthenticatedModes?: boolean;
  /**
   * Release plaintext while a large object streams, before its single GCM tag has been checked at the
   * end (the official clients' "delayed authentication"). A tampered object then fails only at the end
   * of the stream, after unauthenticated bytes were released. Default false: objects larger than
   * `singlePassLimit` are read twice, first to check the tag (nothing released), then to decrypt, each
   * chunk of the second read checked against a digest taken in the first.
   */
  readonly delayedAuthentication?: boolean;
  /**
   * Ranged GETs of S3EC objects. Their one tag covers the whole object, so a range cannot be
   * authenticated: refused unless this is true, as the official clients refuse them by default.
   */
  readonly unauthenticatedRanges?: boolean;
  /** Objects stored up to this many bytes are read once and checked in memory. Default 8 MiB. */
  readonly singlePassLimit?: number;
}

/** The checked option with its defaults. */
export interface ResolvedS3ecOptions {
  /** Undefined: new objects are written in s3crypt's format. */
  readonly write: ResolvedS3ecWrite | undefined;
  readonly commitmentPolicy: S3ecCommitmentPolicy;
  readonly legacyUnauthenticatedModes: boolean;
  readonly delayedAuthentication: boolean;
  readonly unauthenticatedRanges: boolean;
  readonly singlePassLimit: number;
}

/** A checked choice to write S3EC V3. */
export interface ResolvedS3ecWrite {
  readonly instructionFile: boolean;
}

const POLICIES: readonly S3ecCommitmentPolicy[] = ['require-encrypt-require-decrypt', 'require-encrypt-allow-decrypt', 'forbid-encrypt-allow-decrypt'];
const MAX_SINGLE_PASS = 1024 * 1024 * 1024;

function flag(value: unknown, name: string): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`EncryptingS3Client: s3ec.${name} must be a boolean`);
  return value === true;
}

/** Validates the `s3ec` option at construction; undefined when S3EC objects are not to be read. */
export function resolveS3ecOptions(option: unknown): ResolvedS3ecOptions | undefined {
  if (option === undefined) return undefined;
  if (option === null || typeof option !== 'object') throw new TypeError('EncryptingS3Client: s3ec must be an object (e.g. { commitmentPolicy: "require-encrypt-require-decrypt" })');
  const o = option as S3ecOptions;
  const commitmentPolicy = o.commitmentPolicy ?? 'require-encrypt-require-decrypt';
  if (!POLICIES.includes(commitmentPolicy)) throw new TypeError(`EncryptingS3Client: s3ec.commitmentPolicy must be one of ${POLICIES.join(', ')}`);
  const singlePassLimit = o.singlePassLimit ?? 8 * 1024 * 1024;
  if (!Number.isInteger(singlePassLimit) || singlePassLimit < 0 || singlePassLimit > MAX_SINGLE_PASS) {
    throw new TypeError(`EncryptingS3Client: s3ec.singlePassLimit must be an integer from 0 to ${MAX_SINGLE_PASS}`);
  }
  return {
    write: resolveS3ecWrite(o.write, 'EncryptingS3Client: s3ec.write'),
    commitmentPolicy,
    legacyUnauthenticatedModes: flag(o.legacyUnauthenticatedModes, 'legacyUnauthenticatedModes'),
    delayedAuthentication: flag(o.delayedAuthentication, 'delayedAuthentication'),
    unauthenticatedRanges: flag(o.unauthenticatedRanges, 'unauthenticatedRanges'),
    singlePassLimit,
  };
}

/** Validates a `write` / `s3ecWrite` choice; undefined when objects are not to be written in S3EC format. */
export function resolveS3ecWrite(option: unknown, name: string): ResolvedS3ecWrite | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return { instructionFile: false };
  if (option === null || typeof option !== 'object') throw new TypeError(`${name} must be a boolean or { instructionFile?: boolean }`);
  const { instructionFile, ...rest } = option as S3ecWriteOptions;
  if (Object.keys(rest).length > 0) throw new TypeError(`${name} has unknown options (${Object.keys(rest).join(', ')})`);
  if (instructionFile !== undefined && typeof instructionFile !== 'boolean') throw new TypeError(`${name}.instructionFile must be a boolean`);
  return { instructionFile: instructionFile === true };
}
