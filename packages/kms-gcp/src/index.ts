export { GcpKmsKeyring, GCP_KMS_PROVIDER_ID } from './gcp-kms-keyring.js';
export type { GcpKmsKeyringOptions, GcpKmsClient } from './gcp-kms-keyring.js';
