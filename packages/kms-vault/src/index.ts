export { VaultTransitKeyring, VAULT_TRANSIT_PROVIDER_ID, VAULT_TRANSIT_DEFAULT_TIMEOUT_MS, transitKeyVersion } from './vault-transit-keyring.js';
export type { VaultTransitKeyringOptions, VaultClientLike, VaultTokenProvider } from './vault-transit-keyring.js';
export { transitAssociatedData } from './associated-data.js';
