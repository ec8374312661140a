// Getting a data key in and out of keyrings, with the checks s3crypt does not leave to keyrings.
import { KeyringError, S3CryptError } from '../errors.js';
import type { EnvelopeV1 } from '../format/envelope.js';
import { checkCommitment } from '../format/object.js';
import { DATA_KEY_LENGTH, type EncryptedDataKey, type EncryptionContext, type Keyring } from '../keyrings/keyring.js';

function asTyped(error: unknown, code: 'ERR_KEY_WRAP_FAILED' | 'ERR_KEY_UNWRAP_FAILED', message: string): S3CryptError {
  return error instanceof S3CryptError ? error : new KeyringError(code, message, { cause: error });
}

/** A fresh data key and its wrapped copies. The caller zeroes `dataKey` when done. */
export async function wrapDataKey(
  keyring: Keyring,
  context: EncryptionContext,
  dataKey?: Uint8Array,
): Promise<{ dataKey: Uint8Array; encryptedDataKeys: readonly EncryptedDataKey[] }> {
  let result;
  try {
    result = await keyring.onEncrypt(dataKey ? { context, dataKey } : { context });
  } catch (error) {
    throw asTyped(error, 'ERR_KEY_WRAP_FAILED', 'the keyring failed to wrap the data key');
  }
  /* Precondition: a keyring returns a 32-byte key, the one it was given if any, and at least one wrapped copy. */
  const valid =
    result.dataKey instanceof Uint8Array &&
    result.dataKey.length === DATA_KEY_LENGTH &&
    (!dataKey || Buffer.compare(Buffer.from(result.dataKey), Buffer.from(dataKey)) === 0) &&
    result.encryptedDataKeys.length > 0 &&
    result.encryptedDataKeys.length <= 255;
  if (!valid) {
    if (!dataKey && result.dataKey instanceof Uint8Array) result.dataKey.fill(0);
    throw new KeyringError('ERR_KEY_WRAP_FAILED', 'the keyring returned an invalid data key or no wrapped copies');
  }
  return result;
}

/** Unwraps the envelope's data key and checks the key commitment before anything is decrypted. */
export async function unwrapDataKey(keyring: Keyring, envelope: EnvelopeV1, context: EncryptionContext): Promise<Uint8Array> {
  let dataKey: Uint8Array | undefined;
  try {
    dataKey = await keyring.onDecrypt({ context, encryptedDataKeys: envelope.encryptedDataKeys });
  } catch (error) {
    throw asTyped(error, 'ERR_KEY_UNWRAP_FAILED', 'the keyring failed to unwrap the data key');
  }
  if (!dataKey) {
    const names = envelope.encryptedDataKeys.map((edk) => `${edk.providerId}:${edk.keyId}`).join(', ');
    throw new KeyringError('ERR_NO_MATCHING_KEY', `no configured keyring holds any of the object's keys (${names})`);
  }
  if (dataKey.length !== DATA_KEY_LENGTH) {
    dataKey.fill(0);
    throw new KeyringError('ERR_KEY_UNWRAP_FAILED', 'the keyring returned a data key of the wrong length');
  }
  try {
    checkCommitment(dataKey, envelope);
  } catch (error) {
    dataKey.fill(0);
    throw error;
  }
  return dataKey;
}
