export { BranchKeyStore } from './branch-key-store.js';
export type { BranchKeyStoreOptions, BranchKeyVersion, CreatedBranchKey, BranchKeyStoreCallOptions } from './branch-key-store.js';
export { HierarchicalKeyring, HIERARCHY_PROVIDER_ID } from './hierarchical-keyring.js';
export type { HierarchicalKeyringOptions } from './hierarchical-keyring.js';
export { BranchKeyError } from './errors.js';
export type { BranchKeyErrorCode } from './errors.js';
