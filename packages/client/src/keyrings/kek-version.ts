// Which version of a KEK wrapped a data key, for the key services whose wrapped keys say so. Each
// adapter package records it in its own way (and owns that format); this table only reads it back
// for display (`s3crypt ls`/`inspect`), so it never decides anything.
import type { EncryptedDataKey } from './keyring.js';

const VAULT_CIPHERTEXT = /^vault:v(\d{1,10}):/;
const GCP_VERSION = /\/cryptoKeyVersions\/([^/]{1,64})$/;
const AZURE_VERSION = /^https:\/\/[^/]+\/keys\/[^/]+\/([^/]{1,64})$/;
const HIERARCHY_VERSION = /:v(\d{1,10})$/;

/**
 * The KEK version an encrypted data key names, when its provider records one: Vault Transit's
 * `vault:vN:` ciphertext prefix, a GCP `cryptoKeyVersions/N` key name, an Azure Key Vault versioned
 * key URL, a hierarchical keyring's `:vN` branch key version. `undefined` otherwise (AWS KMS keys
 * rotate without a visible version; raw keys have none).
 */
export function kekVersionOf(edk: Pick<EncryptedDataKey, 'providerId' | 'keyId' | 'ciphertext'>): string | undefined {
  switch (edk.providerId) {
    case 'vault-transit':
      // The prefix is Transit's ciphertext framing, not key material.
      return VAULT_CIPHERTEXT.exec(Buffer.from(edk.ciphertext.subarray(0, 24)).toString('latin1'))?.[1];
    case 'gcp-kms':
      return GCP_VERSION.exec(edk.keyId)?.[1];
    case 'azure-key-vault':
      return AZURE_VERSION.exec(edk.keyId)?.[1];
    case 's3crypt-hierarchy':
      return HIERARCHY_VERSION.exec(edk.keyId)?.[1];
    default:
      return undefined;
  }
}
