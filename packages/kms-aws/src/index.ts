export { AwsKmsKeyring, AWS_KMS_PROVIDER_ID } from './aws-kms-keyring.js';
export type { AwsKmsKeyringOptions, AwsKmsClientLike } from './aws-kms-keyring.js';
