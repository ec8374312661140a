export {
  AzureKeyVaultKeyring,
  AZURE_KEY_VAULT_PROVIDER_ID,
  AZURE_KEY_VAULT_DEFAULT_TIMEOUT_MS,
} from './azure-key-vault-keyring.js';
export type {
  AzureKeyVaultKeyringOptions,
  AzureKeyWrapAlgorithm,
  AzureKeyWrapClient,
  AzureKeyVersionResolver,
  AzureCallOptions,
} from './azure-key-vault-keyring.js';
