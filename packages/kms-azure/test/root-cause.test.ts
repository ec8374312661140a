// The keyring's own CryptographyClient (@azure/keyvault-keys), pointed at a vault URL nothing listens
// on (127.0.0.1, a port just closed). No Key Vault server is involved; the credential is a fixed token.
import { objectEncryptionContext } from '@s3crypt/client';
import { describe, expect, it } from 'vitest';
import { AzureKeyVaultKeyring } from '../src/index.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';
import { freePort } from '../../../test/harness/process.js';


describe('AzureKeyVaultKeyring root causes', () => {
  it('an unreachable vault fails with the SDK’s own words in the message and its error as cause', async () => {
    const port = await freePort();
    const credential = { getToken: () => Promise.resolve({ token: 'token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const keyring = new AzureKeyVaultKeyring({
      keyId: `https://127.0.0.1:${port}/keys/k/0123456789abcdef0123456789abcdef`,
      credential,
      clientOptions: { retryOptions: { maxRetries: 0 } },
    });
    const error = await kmsRejection(keyring.onEncrypt({ context: objectEncryptionContext('b', 'k') }));
    expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).message).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(error.message).toMatch(/Azure Key Vault key https:\/\/127\.0\.0\.1:\d+\/keys\/k\/\w+, wrap\): "connect ECONNREFUSED 127\.0\.0\.1:\d+"$/);
  });
});
