export {
  AzureKeyVaultKeyring,
  AZURE_KEY_VAULT_PROVIDER_ID,
} from './azure-key-vault-keyring.js';
export type {
  AzureKeyVaultKeyringOptions,
  AzureKeyWrapAlgorithm,
  AzureKeyWrapClient,
  AzureKeyVersionResolver,
} from './azure-key-vault-keyring.js';
