export { GcpKmsKeyring, GCP_KMS_PROVIDER_ID, GCP_KMS_DEFAULT_TIMEOUT_MS } from './gcp-kms-keyring.js';
export type { GcpKmsKeyringOptions, GcpKmsClient } from './gcp-kms-keyring.js';
