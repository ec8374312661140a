export { AwsKmsKeyring, AWS_KMS_PROVIDER_ID, AWS_KMS_DEFAULT_TIMEOUT_MS } from './aws-kms-keyring.js';
export type { AwsKmsKeyringOptions, AwsKmsClientLike, AwsKmsSendOptions } from './aws-kms-keyring.js';
