import { crc32c } from '@aws-crypto/crc32c';
import { objectEncryptionContext, serializeContext, type EncryptedDataKey } from '@s3crypt/client';
import { describe, expect, it } from 'vitest';
import { GcpKmsKeyring, GCP_KMS_PROVIDER_ID, type GcpKmsClient } from '../src/index.js';
import { mapGcpError } from '../src/lib/errors.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';

const KEY = 'projects/p/locations/global/keyRings/r/cryptoKeys/kek';
const context = objectEncryptionContext('bucket', 'key');

type EncryptRequest = Parameters<GcpKmsClient['encrypt']>[0];
type DecryptRequest = Parameters<GcpKmsClient['decrypt']>[0];
type EncryptResponse = Awaited<ReturnType<GcpKmsClient['encrypt']>>[0];
type DecryptResponse = Awaited<ReturnType<GcpKmsClient['decrypt']>>[0];

/** A stand-in for Cloud KMS: remembers plaintext and AAD per ciphertext handle; responses can be altered. */
function fakeKms(alter: { encrypt?: (r: EncryptResponse) => EncryptResponse; decrypt?: (r: DecryptResponse) => DecryptResponse; fail?: unknown } = {}) {
  const stored = new Map<string, { plaintext: Buffer; aad: Buffer }>();
  const requests: (EncryptRequest | DecryptRequest)[] = [];
  const client: GcpKmsClient = {
    encrypt: async (request) => {
      requests.push(request);
      if (alter.fail) throw alter.fail;
      const handle = Buffer.from(`ct-${stored.size}`);
      stored.set(handle.toString(), { plaintext: Buffer.from(request.plaintext), aad: Buffer.from(request.additionalAuthenticatedData) });
      const response: EncryptResponse = {
        name: `${KEY}/cryptoKeyVersions/3`,
        ciphertext: handle,
        ciphertextCrc32c: { value: String(crc32c(handle)) },
        verifiedPlaintextCrc32c: true,
        verifiedAdditionalAuthenticatedDataCrc32c: true,
      };
      return [alter.encrypt ? alter.encrypt(response) : response];
    },
    decrypt: async (request) => {
      requests.push(request);
      if (alter.fail) throw alter.fail;
      const entry = stored.get(Buffer.from(request.ciphertext).toString());
      if (!entry || !entry.aad.equals(Buffer.from(request.additionalAuthenticatedData))) {
        throw Object.assign(new Error('3 INVALID_ARGUMENT: Decryption failed'), { code: 3 });
      }
      const response: DecryptResponse = { plaintext: entry.plaintext, plaintextCrc32c: { value: crc32c(entry.plaintext) } };
      return [alter.decrypt ? alter.decrypt(response) : response];
    },
  };
  return { client, requests };
}

describe('GcpKmsKeyring', () => {
  it('encrypts with the CryptoKey name, the context as AAD and CRC32C of both, and records the version', async () => {
    const kms = fakeKms();
    const { dataKey, encryptedDataKeys } = await new GcpKmsKeyring({ keyName: KEY, client: kms.client }).onEncrypt({ context });
    const request = kms.requests[0] as EncryptRequest;
    const aad = serializeContext(context);
    expect(request.name).toBe(KEY);
    expect(Buffer.from(request.additionalAuthenticatedData).equals(aad)).toBe(true);
    expect(request.additionalAuthenticatedDataCrc32c.value).toBe(crc32c(aad));
    expect(request.plaintextCrc32c.value).toBe(crc32c(dataKey));
    expect(dataKey).toHaveLength(32);
    expect(encryptedDataKeys).toEqual([expect.objectContaining({ providerId: GCP_KMS_PROVIDER_ID, keyId: `${KEY}/cryptoKeyVersions/3` })]);
  });

  it('decrypts with the CryptoKey name and the same context', async () => {
    const kms = fakeKms();
    const ring = new GcpKmsKeyring({ keyName: KEY, client: kms.client });
    const { dataKey, encryptedDataKeys } = await ring.onEncrypt({ context });
    const key = await ring.onDecrypt({ context, encryptedDataKeys });
    expect(Buffer.from(key!).equals(Buffer.from(dataKey))).toBe(true);
    const request = kms.requests[1] as DecryptRequest;
    expect(request.name).toBe(KEY);
    expect(request.ciphertextCrc32c.value).toBe(crc32c(encryptedDataKeys[0]!.ciphertext));
  });

  it('rejects another context with ERR_KMS_WRONG_KEY', async () => {
    const ring = new GcpKmsKeyring({ keyName: KEY, client: fakeKms().client });
    const { encryptedDataKeys } = await ring.onEncrypt({ context });
    const error = await kmsRejection(ring.onDecrypt({ context: objectEncryptionContext('bucket', 'other'), encryptedDataKeys }));
    expect(error.code).toBe('ERR_KMS_WRONG_KEY');
    expect(error.keyId).toBe(`${KEY}/cryptoKeyVersions/3`);
  });

  it('returns undefined without calling Cloud KMS when no encrypted data key is its own', async () => {
    const kms = fakeKms();
    const ring = new GcpKmsKeyring({ keyName: KEY, client: kms.client });
    const { encryptedDataKeys } = await ring.onEncrypt({ context });
    const edk = encryptedDataKeys[0]!;
    const foreign: EncryptedDataKey[] = [
      { ...edk, providerId: 'azure-key-vault' },
      { ...edk, keyId: `${KEY}-2/cryptoKeyVersions/3` },
      { ...edk, keyId: KEY },
      { ...edk, keyId: 'projects/other/locations/global/keyRings/r/cryptoKeys/kek/cryptoKeyVersions/3' },
    ];
    expect(await ring.onDecrypt({ context, encryptedDataKeys: foreign })).toBeUndefined();
    expect(kms.requests).toHaveLength(1);
  });

  it('fails when Cloud KMS did not verify the request checksums', async () => {
    for (const alter of [
      (r: EncryptResponse) => ({ ...r, verifiedPlaintextCrc32c: false }),
      (r: EncryptResponse) => ({ ...r, verifiedAdditionalAuthenticatedDataCrc32c: undefined }),
      (r: EncryptResponse) => ({ ...r, ciphertextCrc32c: { value: '1' } }),
      (r: EncryptResponse) => ({ ...r, ciphertextCrc32c: null }),
    ]) {
      const error = await kmsRejection(new GcpKmsKeyring({ keyName: KEY, client: fakeKms({ encrypt: alter }).client }).onEncrypt({ context }));
      expect(error.code).toBe('ERR_KMS_FAILED');
      expect(error.message).toMatch(/corrupted in transit/);
    }
  });

  it('fails when the decrypted plaintext does not match its checksum', async () => {
    const kms = fakeKms({ decrypt: (r) => ({ ...r, plaintextCrc32c: { value: 0 } }) });
    const ring = new GcpKmsKeyring({ keyName: KEY, client: kms.client });
    const { encryptedDataKeys } = await ring.onEncrypt({ context });
    expect((await kmsRejection(ring.onDecrypt({ context, encryptedDataKeys }))).code).toBe('ERR_KMS_FAILED');
  });

  it('fails when Cloud KMS answers with a version of another key', async () => {
    const kms = fakeKms({ encrypt: (r) => ({ ...r, name: 'projects/x/locations/global/keyRings/r/cryptoKeys/kek/cryptoKeyVersions/1' }) });
    expect((await kmsRejection(new GcpKmsKeyring({ keyName: KEY, client: kms.client }).onEncrypt({ context }))).code).toBe('ERR_KMS_FAILED');
  });

  it('maps a failed call to a typed error naming the key, with the original as cause', async () => {
    const fail = Object.assign(new Error('9 FAILED_PRECONDITION: version is not enabled'), { code: 9 });
    const error = await kmsRejection(new GcpKmsKeyring({ keyName: KEY, client: fakeKms({ fail }).client }).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_KEY_DISABLED');
    expect(error.keyId).toBe(KEY);
    expect(error.cause).toBe(fail);
  });

  it('rejects a key name that is not a CryptoKey resource name', () => {
    for (const keyName of ['kek', `${KEY}/cryptoKeyVersions/1`, 'projects/p/locations/l/keyRings/r']) {
      expect(() => new GcpKmsKeyring({ keyName, client: fakeKms().client })).toThrow(TypeError);
    }
  });
});

describe('mapGcpError', () => {
  const cases: [number, 'encrypt' | 'decrypt', string][] = [
    [1, 'encrypt', 'ERR_KMS_UNAVAILABLE'],
    [14, 'decrypt', 'ERR_KMS_UNAVAILABLE'],
    [4, 'encrypt', 'ERR_KMS_UNAVAILABLE'],
    [7, 'decrypt', 'ERR_KMS_ACCESS_DENIED'],
    [16, 'encrypt', 'ERR_KMS_ACCESS_DENIED'],
    [9, 'decrypt', 'ERR_KMS_KEY_DISABLED'],
    [5, 'encrypt', 'ERR_KMS_KEY_NOT_FOUND'],
    [8, 'encrypt', 'ERR_KMS_THROTTLED'],
    [3, 'decrypt', 'ERR_KMS_WRONG_KEY'],
    [3, 'encrypt', 'ERR_KMS_FAILED'],
    [13, 'decrypt', 'ERR_KMS_FAILED'],
  ];
  for (const [status, operation, code] of cases) {
    it(`gRPC status ${status} on ${operation} → ${code}`, () => {
      const error = Object.assign(new Error(`${status} status`), { code: status });
      const mapped = mapGcpError(error, KEY, operation);
      expect(mapped.code).toBe(code);
      expect(mapped.keyId).toBe(KEY);
      expect(mapped.message).toContain(KEY);
      expect(mapped.cause).toBe(error);
    });
  }

  it('maps an error without a status to ERR_KMS_FAILED', () => {
    expect(mapGcpError(new Error('boom'), KEY, 'encrypt').code).toBe('ERR_KMS_FAILED');
  });
});

describe('GcpKmsKeyring.kekMatchers', () => {
  it('names every version of its CryptoKey by prefix, matching the version its envelopes record', async () => {
    const keyring = new GcpKmsKeyring({ keyName: KEY, client: fakeKms().client });
    expect(keyring.kekMatchers()).toEqual([{ providerId: 'gcp-kms', keyId: `${KEY}/cryptoKeyVersions/`, match: 'prefix' }]);
    const [edk] = (await keyring.onEncrypt({ context })).encryptedDataKeys;
    expect(edk?.keyId.startsWith(keyring.kekMatchers()[0]!.keyId)).toBe(true);
  });
});

describe('GcpKmsKeyring cancellation and timeout', () => {
  const hanging: GcpKmsClient = { encrypt: () => new Promise(() => undefined), decrypt: () => new Promise(() => undefined) };

  it('rejects at once with the caller\'s reason when the caller aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const pending = new GcpKmsKeyring({ keyName: KEY, client: hanging }).onEncrypt({ context, signal: controller.signal });
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('rejects with ERR_KMS_UNAVAILABLE when Cloud KMS does not answer within timeoutMs, and gives each call the time left as its deadline', async () => {
    const timeouts: (number | undefined)[] = [];
    const client: GcpKmsClient = { ...hanging, decrypt: (_request, options) => (timeouts.push(options?.timeout), new Promise(() => undefined)) };
    const ownKey: EncryptedDataKey = { providerId: GCP_KMS_PROVIDER_ID, keyId: `${KEY}/cryptoKeyVersions/1`, ciphertext: new Uint8Array(8) };
    const error = await kmsRejection(new GcpKmsKeyring({ keyName: KEY, client, timeoutMs: 30 }).onDecrypt({ context, encryptedDataKeys: [ownKey] }));
    expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
    expect((error.cause as Error).name).toBe('TimeoutError');
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]).toBeGreaterThan(0);
    expect(timeouts[0]).toBeLessThanOrEqual(30);
  });

  it('refuses a timeoutMs that is not a positive number', () => {
    expect(() => new GcpKmsKeyring({ keyName: KEY, client: hanging, timeoutMs: Number.NaN })).toThrow(TypeError);
  });
});
