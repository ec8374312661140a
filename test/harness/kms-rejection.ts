import { expect } from 'vitest';
import { KmsError } from '@s3crypt/client';

/** Awaits a promise that must reject with a KmsError, and returns that error for further checks. */
export async function kmsRejection(promise: Promise<unknown>): Promise<KmsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KmsError);
  return error as KmsError;
}
