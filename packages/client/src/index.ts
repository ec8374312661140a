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
  KeyPolicyError,
  ObjectIdentityError,
  StoreResponseError,
  ObjectChangedError,
  AuditError,
  CustomerKeyError,
  S3ecError,
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
  KekMatcher,
  KeyringObserver,
} from './keyrings/keyring.js';
export { RawAesKeyring } from './keyrings/raw-aes.js';
export type { RawAesKeyringOptions } from './keyrings/raw-aes.js';
export { RsaKeyring } from './keyrings/raw-rsa.js';
export type { RsaKeyringOptions } from './keyrings/raw-rsa.js';
export { S3ecAesKeyring } from './keyrings/s3ec-aes.js';
export type { S3ecAesKeyringOptions } from './keyrings/s3ec-aes.js';
export { S3ecRsaKeyring } from './keyrings/s3ec-rsa.js';
export type { S3ecRsaKeyringOptions } from './keyrings/s3ec-rsa.js';
export { S3EC_PROVIDER_IDS, S3EC_CONTENT_ALGORITHM_CONTEXT_KEY, S3EC_V3_CONTENT_ALGORITHM_ID, s3ecMaterialDescriptionKeyId } from './keyrings/s3ec-ids.js';
export { MultiKeyring } from './keyrings/multi.js';
export { CustomerKeyring } from './keyrings/customer-key.js';
export type { MultiKeyringOptions } from './keyrings/multi.js';
export { CachingKeyring } from './keyrings/caching.js';
export type { CachingKeyringOptions, CachingKeyringStats } from './keyrings/caching.js';
export { serializeContext } from './keyrings/context.js';
export { connectionFailureCode } from './keyrings/connection-failure.js';
export { causeMessage } from './keyrings/cause-message.js';
export { unwrapFirst } from './keyrings/unwrap-first.js';
export { untilAborted } from './keyrings/until-aborted.js';
export { sealDataKey, openDataKey } from './keyrings/data-key-cipher.js';
export { withDeadline } from './keyrings/deadline.js';
export type { DeadlineOptions } from './keyrings/deadline.js';
export { EncryptingS3Client } from './client/encrypting-client.js';
export type { EncryptingS3ClientOptions } from './client/encrypting-client.js';
export type { S3ecOptions, S3ecCommitmentPolicy, S3ecWriteOptions } from './client/s3ec-options.js';
export type { ParallelReadOptions, ParallelReadClientOptions } from './parallel/options.js';
export type { PlaintextReadSelection } from './client/plaintext-reads.js';
export { s3cryptInfo } from './client/object-info.js';
export type { S3CryptObjectInfo } from './client/object-info.js';
export { withS3Crypt } from './client/request-options.js';
export type { S3CryptRequestOptions, CustomerKeyHandling } from './client/request-options.js';
export type { KeyPolicy } from './client/key-policy.js';
export { waitUntilObjectExists } from './client/wait-until-object-exists.js';
export { rotateObject } from './rotation/rotate-object.js';
export type { RotateObjectOptions, RotationSelection, RotationObject, ObjectRotation, RotationSkipReason, KekName } from './rotation/rotate-object.js';
export { failureReason } from './bulk/failure.js';
export type { FailureReason } from './bulk/failure.js';
export { rotateKeys } from './rotation/rotate-keys.js';
export type { RotateKeysOptions, RotationProgress, RotationSummary } from './rotation/rotate-keys.js';
export { forEachObject } from './bulk/for-each-object.js';
export type { BulkObject, ObjectListing, BulkPosition, ForEachObjectOptions } from './bulk/for-each-object.js';
export { describeObject } from './inspection/describe-object.js';
export type {
  DescribeObjectInput,
  DescribeObjectOptions,
  ObjectDescription,
  S3CryptObjectDescription,
  S3ecObjectDescription,
  PlaintextObjectDescription,
  StoredObjectFacts,
  DescribedKek,
} from './inspection/describe-object.js';
export { verifyObject } from './inspection/verify-object.js';
export type { VerifyObjectInput, VerifyObjectOptions, VerifyObjectResult } from './inspection/verify-object.js';
export { verifyObjects } from './inspection/verify-objects.js';
export type { VerifyObjectsOptions, ObjectVerification, VerificationProgress, VerificationSummary } from './inspection/verify-objects.js';
export { AUDIT_EVENT_SCHEMA } from './audit/events.js';
export type { AuditEvent, AuditOperation, AuditOutcome, AuditKek, AuditSink } from './audit/events.js';
export type { AuditOptions } from './audit/options.js';
export type { AuditStats, AuditDelivery } from './audit/buffer.js';
export { callbackSink } from './audit/callback-sink.js';
export { JsonLinesSink } from './audit/json-lines-sink.js';
export type { JsonLinesSinkOptions } from './audit/json-lines-sink.js';
export { loggerSink } from './audit/logger-sink.js';
export type { AuditLogger } from './audit/logger-sink.js';
