// Segments as objects in a bucket, written and read through an EncryptingS3Client (encrypted, and
// authenticated on read). Object key = prefix + segment name, so listing order is chain order.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { EncryptingS3Client } from '@s3crypt/client';
import { isSegmentName } from './record.js';

/**
 * Where segments live in a bucket. Pass an {@link EncryptingS3Client} so segments are encrypted at rest
 * and authenticated when read back.
 *
 * @example
 * ```ts
 * const location: BucketLocation = { client: encryptingClient, bucket: 'audit', prefix: 'prod/app-1/' };
 * ```
 */
export interface BucketLocation {
  readonly client: EncryptingS3Client;
  readonly bucket: string;
  /** Prepended to each segment name; end it with `/` for a folder. Default: none. */
  readonly prefix?: string;
}

export async function listSegmentObjects(location: BucketLocation): Promise<string[]> {
  const prefix = location.prefix ?? '';
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await location.client.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const name = object.Key?.slice(prefix.length);
      if (name !== undefined && isSegmentName(name)) names.push(name);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return names.sort();
}

export async function readSegmentObject(location: BucketLocation, name: string): Promise<Buffer> {
  const response = await location.client.send(new GetObjectCommand({ Bucket: location.bucket, Key: `${location.prefix ?? ''}${name}` }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

export async function writeSegmentObject(location: BucketLocation, name: string, bytes: Buffer): Promise<void> {
  await location.client.send(
    new PutObjectCommand({ Bucket: location.bucket, Key: `${location.prefix ?? ''}${name}`, Body: bytes, ContentType: 'application/x-ndjson' }),
  );
}
