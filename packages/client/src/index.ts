export {
  S3CryptError,
  NotEncryptedError,
  EnvelopeError,
  UnsupportedFormatError,
  DecryptionError,
  BodyLengthError,
  KeyringError,
  MultipartStateError,
  KmsError,
} from './errors.js';
export type { S3CryptErrorCode, KmsErrorCode } from './errors.js';
export { DATA_KEY_LENGTH, objectEncryptionContext } from './keyrings/keyring.js';
export type {
  Keyring,
  EncryptionContext,
  EncryptedDataKey,
  EncryptRequest,
  EncryptResult,
  DecryptRequest,
} from './keyrings/keyring.js';
