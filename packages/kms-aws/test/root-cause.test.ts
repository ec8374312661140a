// A real KMSClient, misconfigured the way users misconfigure it: no region. No server is involved.
import { objectEncryptionContext } from '@s3crypt/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AwsKmsKeyring } from '../src/index.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('AwsKmsKeyring root causes', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('a KMSClient without a region fails with the SDK’s own words in the message and its error as cause', async () => {
    // Nothing from the environment or the shared config files may supply a region.
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/s3crypt-test-config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/s3crypt-test-credentials');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const keyring = new AwsKmsKeyring({ keyId: ARN, clientConfig: {} });
    const error = await kmsRejection(keyring.onEncrypt({ context: objectEncryptionContext('b', 'k') }));
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).message).toBe('Region is missing');
    expect(error.message).toMatch(/^AWS KMS GenerateDataKey with key arn:\S+ failed: .*"Region is missing"/);
  });
});
