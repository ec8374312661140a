// A real KeyManagementServiceClient (gRPC, insecure credentials) pointed at 127.0.0.1 on a port
// nothing listens on. No Cloud KMS server is involved. Its Encrypt retries are switched off through the
// client's own retry configuration: with the library's default retries the keyring's timeout ends the
// wait first, and the cause is then the keyring's TimeoutError (see the README's Timeouts section).
import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';
import { objectEncryptionContext } from '@s3crypt/client';
import { describe, expect, it } from 'vitest';
import { GcpKmsKeyring } from '../src/index.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';
import { freePort } from '../../../test/harness/process.js';


describe('GcpKmsKeyring root causes', () => {
  it('an unreachable endpoint fails with the library’s own words in the message and its error as cause', async () => {
    const port = await freePort();
    // universeDomain keeps google-auth-library from probing the GCE metadata server.
    const client = new KeyManagementServiceClient({
      apiEndpoint: '127.0.0.1',
      port,
      sslCreds: grpc.credentials.createInsecure(),
      universeDomain: 'googleapis.com',
      clientConfig: {
        interfaces: { 'google.cloud.kms.v1.KeyManagementService': { retry_codes: { never: [] }, methods: { Encrypt: { retry_codes_name: 'never', retry_params_name: 'default' } } } },
      },
    });
    try {
      const keyring = new GcpKmsKeyring({ keyName: 'projects/p/locations/l/keyRings/r/cryptoKeys/k', client, timeoutMs: 5_000 });
      const error = await kmsRejection(keyring.onEncrypt({ context: objectEncryptionContext('b', 'k') }));
      expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
      expect(error.cause).toBeInstanceOf(Error);
      expect((error.cause as Error).message).toContain('ECONNREFUSED');
      expect(error.message).toMatch(/^Cloud KMS is unreachable .*\(Cloud KMS key projects\/p\/locations\/l\/keyRings\/r\/cryptoKeys\/k, encrypt\): "14 UNAVAILABLE: .*ECONNREFUSED 127\.0\.0\.1:\d+/);
    } finally {
      await client.close();
    }
  }, 10_000);
});
