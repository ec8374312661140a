// Every KMS keyring against a KMS that accepts connections and never answers
// (test/harness/silent-server.ts, on 127.0.0.1), through the vendor's real client library: the AWS
// SDK's KMSClient, node-vault, @azure/keyvault-keys (over TLS with a throw-away certificate, as
// Key Vault is HTTPS only) and @google-cloud/kms (gRPC). A configured timeout must end a hung call
// with ERR_KMS_UNAVAILABLE, and a caller's abort must end it at once with the signal's reason.
import { Agent } from 'node:https';
import { KMSClient } from '@aws-sdk/client-kms';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import * as grpc from '@grpc/grpc-js';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { objectEncryptionContext, type EncryptedDataKey, type Keyring } from '@s3crypt/client';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { AzureKeyVaultKeyring } from '@s3crypt/kms-azure';
import { GcpKmsKeyring } from '@s3crypt/kms-gcp';
import { VaultTransitKeyring } from '@s3crypt/kms-vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { selfSignedCertificate } from './harness/fake-azure-key-vault.js';
import { kmsRejection } from './harness/kms-rejection.js';
import { startSilentServer, type SilentServer } from './harness/silent-server.js';

const context = objectEncryptionContext('bucket', 'object');
const SHORT_TIMEOUT_MS = 300;
const AWS_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const GCP_KEY_NAME = 'projects/p/locations/global/keyRings/r/cryptoKeys/k';
const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

interface Subject {
  readonly keyring: Keyring;
  /** An encrypted data key this keyring would send to its KMS to unwrap. */
  readonly ownKey: EncryptedDataKey;
  close?(): Promise<void> | void;
}

interface Adapter {
  readonly name: string;
  /** Whether the library cancels the request on abort (its socket closes), rather than the keyring just stop waiting. */
  readonly cancelsRequest: boolean;
  start(): Promise<SilentServer>;
  subject(server: SilentServer, timeoutMs?: number): Subject;
}

const tlsCertificate = selfSignedCertificate();

const adapters: Adapter[] = [
  {
    name: 'AwsKmsKeyring (AWS SDK KMSClient)',
    cancelsRequest: true,
    start: () => startSilentServer(),
    subject: (server, timeoutMs) => {
      const client = new KMSClient({ region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } });
      return {
        keyring: new AwsKmsKeyring({ keyId: AWS_KEY_ARN, client, timeoutMs }),
        ownKey: { providerId: 'aws-kms', keyId: AWS_KEY_ARN, ciphertext: new Uint8Array(64).fill(1) },
        close: () => client.destroy(),
      };
    },
  },
  {
    name: 'VaultTransitKeyring (node-vault)',
    cancelsRequest: false,
    start: () => startSilentServer(),
    // node-vault's own socket timeout is set far beyond the keyring's, so only the keyring can end the call.
    subject: (server, timeoutMs) => ({
      keyring: new VaultTransitKeyring({ keyName: 's3crypt', endpoint: server.url, token: 'test-token', timeoutMs, requestTimeoutMs: 120_000 }),
      ownKey: { providerId: 'vault-transit', keyId: 'transit/s3crypt', ciphertext: new Uint8Array(Buffer.from('vault:v1:AAAA')) },
    }),
  },
  {
    name: 'AzureKeyVaultKeyring (@azure/keyvault-keys over TLS)',
    cancelsRequest: true,
    start: () => startSilentServer(tlsCertificate),
    subject: (server, timeoutMs) => {
      const agent = new Agent({ ca: tlsCertificate.cert, keepAlive: true });
      const keyId = `${server.url}/keys/kek/0123456789abcdef`;
      // A well-formed wrapped key (format 1, 256-byte RSA ciphertext, 32-byte tag), so the keyring calls Key Vault.
      const ciphertext = Buffer.concat([Buffer.from([1, 1, 0]), Buffer.alloc(256, 7), Buffer.alloc(32, 9)]);
      return {
        keyring: new AzureKeyVaultKeyring({
          keyId,
          credential,
          timeoutMs,
          clientOptions: { serviceVersion: '7.6', disableChallengeResourceVerification: true, agent, retryOptions: { maxRetries: 1, retryDelayInMs: 50 } },
        }),
        ownKey: { providerId: 'azure-key-vault', keyId, ciphertext },
        close: () => agent.destroy(),
      };
    },
  },
  {
    name: 'GcpKmsKeyring (@google-cloud/kms over gRPC)',
    cancelsRequest: false,
    start: () => startSilentServer(),
    subject: (server, timeoutMs) => {
      // universeDomain keeps google-auth-library from probing the GCE metadata server for credentials.
      const client = new KeyManagementServiceClient({ apiEndpoint: '127.0.0.1', port: server.port, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' });
      return {
        keyring: new GcpKmsKeyring({ keyName: GCP_KEY_NAME, client, timeoutMs }),
        ownKey: { providerId: 'gcp-kms', keyId: `${GCP_KEY_NAME}/cryptoKeyVersions/1`, ciphertext: new Uint8Array(64).fill(1) },
        close: () => client.close(),
      };
    },
  },
];

/** Runs `call`, and resolves what it rejected with and after how many milliseconds; fails if it resolves. */
async function rejectionOf(call: () => Promise<unknown>): Promise<{ error: unknown; elapsedMs: number }> {
  const started = performance.now();
  const error = await call().then(
    () => expect.unreachable('the call resolved against a server that never answers'),
    (e: unknown) => e,
  );
  return { error, elapsedMs: performance.now() - started };
}

for (const adapter of adapters) {
  // A keyring that hangs fails its test in seconds rather than at the suite's two-minute limit.
  describe(`${adapter.name} against a KMS that never answers`, { timeout: 8_000 }, () => {
    let server: SilentServer | undefined;
    let subject: Subject | undefined;

    afterEach(async () => {
      await subject?.close?.();
      await server?.stop();
      server = undefined;
      subject = undefined;
    });

    const operations = {
      onEncrypt: (keyring: Keyring, signal?: AbortSignal) => keyring.onEncrypt({ context, signal }),
      onDecrypt: (keyring: Keyring, signal?: AbortSignal) => keyring.onDecrypt({ context, encryptedDataKeys: [subject!.ownKey], signal }),
    };

    for (const [operation, run] of Object.entries(operations)) {
      it(`${operation} rejects with ERR_KMS_UNAVAILABLE once the configured timeout runs out`, async () => {
        server = await adapter.start();
        subject = adapter.subject(server, SHORT_TIMEOUT_MS);
        const { error, elapsedMs } = await rejectionOf(() => run(subject!.keyring));
        const kmsError = await kmsRejection(Promise.reject(error));
        expect(kmsError.code).toBe('ERR_KMS_UNAVAILABLE');
        expect(kmsError.cause).toBeDefined();
        expect(server.accepted()).toBeGreaterThan(0);
        expect(elapsedMs).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 20);
        expect(elapsedMs).toBeLessThan(SHORT_TIMEOUT_MS + 2_000);
        if (adapter.cancelsRequest) await vi.waitFor(() => expect(server!.open()).toBe(0), { timeout: 2_000 });
      });

      it(`${operation} rejects at once with the signal's reason when the caller aborts mid-call`, async () => {
        server = await adapter.start();
        subject = adapter.subject(server);
        const controller = new AbortController();
        const pending = rejectionOf(() => run(subject!.keyring, controller.signal));
        await vi.waitFor(() => expect(server!.accepted()).toBeGreaterThan(0), { timeout: 5_000 });
        const abortedAt = performance.now();
        controller.abort();
        const { error } = await pending;
        expect(performance.now() - abortedAt).toBeLessThan(500);
        expect(error).toBe(controller.signal.reason);
        expect((error as Error).name).toBe('AbortError');
        if (adapter.cancelsRequest) await vi.waitFor(() => expect(server!.open()).toBe(0), { timeout: 2_000 });
      });
    }

    it('a signal aborted before the call rejects without contacting the KMS', async () => {
      server = await adapter.start();
      subject = adapter.subject(server);
      const reason = new Error('caller gave up');
      const { error } = await rejectionOf(() => operations.onEncrypt(subject!.keyring, AbortSignal.abort(reason)));
      expect(error).toBe(reason);
      expect(server.accepted()).toBe(0);
    });
  });
}
