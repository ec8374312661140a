// The keyring's own node-vault client, misconfigured: an endpoint without a scheme, and one nothing
// listens on (127.0.0.1, a port just closed). No Vault server is involved.
import { objectEncryptionContext } from '@s3crypt/client';
import { describe, expect, it } from 'vitest';
import { VaultTransitKeyring } from '../src/index.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';
import { freePort } from '../../../test/harness/process.js';

const context = objectEncryptionContext('b', 'k');


describe('VaultTransitKeyring root causes', () => {
  it('an endpoint without a scheme fails with the client’s own words in the message and its error as cause', async () => {
    const error = await kmsRejection(new VaultTransitKeyring({ keyName: 'app', endpoint: 'vault.internal:8200', token: 't' }).onEncrypt({ context }));
    expect(error.cause).toBeInstanceOf(Error);
    const root = (error.cause as Error).message;
    expect(root).toMatch(/protocol/i);
    expect(error.message).toMatch(/^Vault Transit datakey with key transit\/app failed: /);
    expect(error.message).toContain(`"${root}"`);
  });

  it('an endpoint nothing listens on names the refused connection', async () => {
    const port = await freePort();
    const error = await kmsRejection(new VaultTransitKeyring({ keyName: 'app', endpoint: `http://127.0.0.1:${port}`, token: 't' }).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
    expect(error.message).toContain(`"connect ECONNREFUSED 127.0.0.1:${port}"`);
  });
});
