import { S3CryptError } from '@s3crypt/client';

/** The `code` of the S3CryptError `pending` rejects with; fails if it resolves or rejects otherwise. */
export async function rejectionCode(pending: Promise<unknown>): Promise<string> {
  try {
    await pending;
  } catch (error) {
    if (error instanceof S3CryptError) return error.code;
    throw error;
  }
  throw new Error('the read was accepted');
}
