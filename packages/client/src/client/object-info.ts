/**
 * What s3crypt authenticated about an object, returned on the outputs of PutObject,
 * CompleteMultipartUpload, GetObject and HeadObject as `output.S3Crypt`.
 *
 * @example
 * ```ts
 * const out = await client.send(new GetObjectCommand({ Bucket, Key }));
 * const info = s3cryptInfo(out);
 * if (!info?.encrypted) log.warn('plaintext read', Key);
 * ```
 */
export interface S3CryptObjectInfo {
  /** False when the object had no envelope and was read as plaintext because the caller's selection allows it. */
  readonly encrypted: boolean;
  /** `s3ec` for an object written by the AWS S3 Encryption Client; absent for s3crypt's own format and plaintext. */
  readonly format?: 's3ec';
  /** The object's format version (s3crypt 1 or 2; S3EC 1, 2 or 3); absent for plaintext. */
  readonly formatVersion?: number;
  /**
   * The object's authenticated identity (base64url): the same for every read of one write, different
   * for any other write of any object. Store it, and demand it on later reads to detect rollback.
   */
  readonly objectId?: string;
}

/** The field name under which outputs carry {@link S3CryptObjectInfo}. */
export const OBJECT_INFO_FIELD = 'S3Crypt';

/**
 * The {@link S3CryptObjectInfo} of an output of `EncryptingS3Client.send`, if it has one.
 *
 * @example
 * ```ts
 * const { objectId } = s3cryptInfo(await client.send(new PutObjectCommand({ Bucket, Key, Body })))!;
 * ```
 */
export function s3cryptInfo(output: object): S3CryptObjectInfo | undefined {
  return (output as { [OBJECT_INFO_FIELD]?: S3CryptObjectInfo })[OBJECT_INFO_FIELD];
}

/**
 * The info of an s3crypt object, its `objectId` computed when first read: an enumerable getter, so
 * spreading or serialising the info still carries the value.
 */
export function encryptedObjectInfo(formatVersion: number, objectId: () => string): S3CryptObjectInfo {
  return {
    encrypted: true,
    formatVersion,
    get objectId() {
      return objectId();
    },
  };
}

/** `output` with the info attached (a plain data property, so spreading the output keeps it). */
export function withObjectInfo<T extends object>(output: T, info: S3CryptObjectInfo): T {
  return { ...output, [OBJECT_INFO_FIELD]: info };
}
