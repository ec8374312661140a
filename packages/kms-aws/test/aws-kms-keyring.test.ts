import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DecryptCommand,
  DisabledException,
  EncryptCommand,
  GenerateDataKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSInvalidStateException,
  LimitExceededException,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { objectEncryptionContext, type EncryptedDataKey } from '@s3crypt/client';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsKmsKeyring, type AwsKmsClientLike } from '../src/index.js';
import { kmsRejection } from '../../../test/harness/kms-rejection.js';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/99999999-12ab-34cd-56ef-1234567890ab';
const context = objectEncryptionContext('bucket', 'key');
const meta = { $metadata: {} };

type Sent = GenerateDataKeyCommand | EncryptCommand | DecryptCommand;

/** A KMS double: records commands and answers with `respond`. */
function fakeClient(respond: (command: Sent) => unknown): AwsKmsClientLike & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    send: (async (command: Sent) => {
      sent.push(command);
      return respond(command);
    }) as AwsKmsClientLike['send'],
  };
}

const edk = (keyId: string, providerId = 'aws-kms'): EncryptedDataKey => ({
  providerId,
  keyId,
  ciphertext: new Uint8Array([1, 2, 3]),
});

describe('AwsKmsKeyring', () => {
  it('generates with AES_256 and the context, and records the ARN KMS returns', async () => {
    const client = fakeClient(() => ({ Plaintext: new Uint8Array(32).fill(7), CiphertextBlob: new Uint8Array([9]), KeyId: ARN }));
    const keyring = new AwsKmsKeyring({ keyId: 'alias/app', client, grantTokens: ['g1'] });
    const result = await keyring.onEncrypt({ context });
    expect(result.dataKey).toEqual(new Uint8Array(32).fill(7));
    expect(result.encryptedDataKeys).toEqual([{ providerId: 'aws-kms', keyId: ARN, ciphertext: new Uint8Array([9]) }]);
    const command = client.sent[0];
    expect(command).toBeInstanceOf(GenerateDataKeyCommand);
    expect(command?.input).toEqual({ KeyId: 'alias/app', KeySpec: 'AES_256', EncryptionContext: context, GrantTokens: ['g1'] });
  });

  it('wraps a given data key with Encrypt', async () => {
    const client = fakeClient(() => ({ CiphertextBlob: new Uint8Array([4]), KeyId: ARN }));
    const dataKey = new Uint8Array(32).fill(1);
    const result = await new AwsKmsKeyring({ keyId: ARN, client }).onEncrypt({ context, dataKey });
    expect(result.dataKey).toBe(dataKey);
    expect(client.sent[0]).toBeInstanceOf(EncryptCommand);
    expect(client.sent[0]?.input).toMatchObject({ KeyId: ARN, Plaintext: dataKey, EncryptionContext: context });
  });

  it('rejects a data key of the wrong length as API misuse', async () => {
    const keyring = new AwsKmsKeyring({ keyId: ARN, client: fakeClient(() => ({})) });
    await expect(keyring.onEncrypt({ context, dataKey: new Uint8Array(16) })).rejects.toThrow(TypeError);
  });

  it('fails closed when GenerateDataKey answers without a 32-byte key', async () => {
    const client = fakeClient(() => ({ Plaintext: new Uint8Array(16), CiphertextBlob: new Uint8Array([1]), KeyId: ARN }));
    const error = await kmsRejection(new AwsKmsKeyring({ keyId: ARN, client }).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_FAILED');
  });

  it('decrypts its own key with the context and the explicit key ARN', async () => {
    const client = fakeClient(() => ({ Plaintext: new Uint8Array(32).fill(5), KeyId: ARN }));
    const plaintext = await new AwsKmsKeyring({ keyId: ARN, client }).onDecrypt({
      context,
      encryptedDataKeys: [edk(OTHER_ARN), edk(ARN, 'raw-aes'), edk(ARN)],
    });
    expect(plaintext).toEqual(new Uint8Array(32).fill(5));
    expect(client.sent).toHaveLength(1);
    expect(client.sent[0]?.input).toMatchObject({ KeyId: ARN, EncryptionContext: context, CiphertextBlob: new Uint8Array([1, 2, 3]) });
  });

  it('returns undefined without calling KMS when no encrypted data key is its own', async () => {
    const client = fakeClient(() => {
      throw new Error('must not be called');
    });
    const keyring = new AwsKmsKeyring({ keyId: ARN, client });
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [edk(OTHER_ARN), edk(ARN, 'raw-aes')] })).toBeUndefined();
    expect(client.sent).toHaveLength(0);
  });

  it('matches a bare key id against the ARN recorded in the envelope', async () => {
    const client = fakeClient(() => ({ Plaintext: new Uint8Array(32), KeyId: ARN }));
    const keyring = new AwsKmsKeyring({ keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', client });
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [edk(OTHER_ARN), edk(ARN)] })).toBeDefined();
    expect(client.sent.map((c) => c.input.KeyId)).toEqual([ARN]);
  });

  it('with an alias, skips encrypted data keys KMS says belong to another key', async () => {
    const client = fakeClient((command) => {
      const blob = (command as DecryptCommand).input.CiphertextBlob;
      if (blob?.[0] === 1) throw new IncorrectKeyException({ message: 'incorrect key', ...meta });
      return { Plaintext: new Uint8Array(32).fill(3), KeyId: ARN };
    });
    const keyring = new AwsKmsKeyring({ keyId: 'alias/app', client });
    const mine = { ...edk(ARN), ciphertext: new Uint8Array([2]) };
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [edk(OTHER_ARN), mine] })).toEqual(new Uint8Array(32).fill(3));
    expect(client.sent.map((c) => c.input.KeyId)).toEqual(['alias/app', 'alias/app']);
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [edk(OTHER_ARN)] })).toBeUndefined();
  });

  it('rejects when KMS says the plaintext came from a key other than the one the envelope names', async () => {
    const client = fakeClient(() => ({ Plaintext: new Uint8Array(32).fill(9), KeyId: OTHER_ARN }));
    const error = await kmsRejection(new AwsKmsKeyring({ keyId: 'alias/app', client }).onDecrypt({ context, encryptedDataKeys: [edk(ARN)] }));
    expect(error.code).toBe('ERR_KMS_WRONG_KEY');
    expect(error.keyId).toBe(ARN);
  });

  const cases = [
    ['DisabledException', new DisabledException({ message: 'disabled', ...meta }), 'ERR_KMS_KEY_DISABLED'],
    ['KMSInvalidStateException', new KMSInvalidStateException({ message: 'pending deletion', ...meta }), 'ERR_KMS_KEY_DISABLED'],
    ['NotFoundException', new NotFoundException({ message: 'gone', ...meta }), 'ERR_KMS_KEY_NOT_FOUND'],
    ['AccessDeniedException', Object.assign(new Error('no'), { name: 'AccessDeniedException' }), 'ERR_KMS_ACCESS_DENIED'],
    ['InvalidCiphertextException', new InvalidCiphertextException({ message: '', ...meta }), 'ERR_KMS_WRONG_KEY'],
    ['IncorrectKeyException', new IncorrectKeyException({ message: '', ...meta }), 'ERR_KMS_WRONG_KEY'],
    ['LimitExceededException', new LimitExceededException({ message: 'slow down', ...meta }), 'ERR_KMS_THROTTLED'],
    ['ThrottlingException', Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }), 'ERR_KMS_THROTTLED'],
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'ERR_KMS_UNAVAILABLE'],
    ['HTTP 503', Object.assign(new Error('?'), { name: 'Unknown', $metadata: { httpStatusCode: 503 } }), 'ERR_KMS_UNAVAILABLE'],
    ['anything else', new Error('boom'), 'ERR_KMS_FAILED'],
  ] as const;

  for (const [name, vendorError, code] of cases) {
    it(`maps ${name} to ${code} on every operation, naming the key and keeping the cause`, async () => {
      const client = fakeClient(() => {
        throw vendorError;
      });
      const keyring = new AwsKmsKeyring({ keyId: ARN, client });
      for (const attempt of [
        () => keyring.onEncrypt({ context }),
        () => keyring.onEncrypt({ context, dataKey: new Uint8Array(32) }),
        () => keyring.onDecrypt({ context, encryptedDataKeys: [edk(ARN)] }),
      ]) {
        const error = await kmsRejection(attempt());
        expect(error.code).toBe(code);
        expect(error.keyId).toBe(ARN);
        expect(error.message).toContain(ARN);
        expect(error.cause).toBe(vendorError);
      }
    });
  }

  it('rejects a missing keyId with a TypeError', () => {
    expect(() => new AwsKmsKeyring({ keyId: '' })).toThrow(TypeError);
  });
});

describe('AwsKmsKeyring with the real KMSClient against a protocol-level stub', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  /** Answers every KMS request with one JSON 1.1 error body, as the service does. */
  async function kmsAnswering(status: number, type: string): Promise<KMSClient> {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'r1' });
        res.end(JSON.stringify({ __type: type, message: `${type} from stub` }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new KMSClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  }

  // moto (the integration tests' KMS) does not enforce key state itself (test/kms-aws.test.ts adds it
  // with a proxy), so the wire format of these two exceptions is also checked here against the SDK's
  // own deserializer.
  for (const [type, code] of [
    ['DisabledException', 'ERR_KMS_KEY_DISABLED'],
    ['KMSInvalidStateException', 'ERR_KMS_KEY_DISABLED'],
    ['ThrottlingException', 'ERR_KMS_THROTTLED'],
  ] as const) {
    it(`maps a ${type} response to ${code}`, async () => {
      const keyring = new AwsKmsKeyring({ keyId: ARN, client: await kmsAnswering(400, `com.amazonaws.kms#${type}`) });
      const error = await kmsRejection(keyring.onDecrypt({ context, encryptedDataKeys: [edk(ARN)] }));
      expect(error.code).toBe(code);
      expect((error.cause as Error).name).toBe(type);
      const writeError = await kmsRejection(keyring.onEncrypt({ context }));
      expect(writeError.code).toBe(code);
    });
  }

  it('maps a refused connection to ERR_KMS_UNAVAILABLE', async () => {
    const client = await kmsAnswering(200, 'unused');
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const error = await kmsRejection(new AwsKmsKeyring({ keyId: ARN, client }).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
    expect(error.message).toMatch(/could not be reached.*ECONNREFUSED/);
  });
});

describe('AwsKmsKeyring.kekMatchers', () => {
  it('names a key ARN exactly', () => {
    expect(new AwsKmsKeyring({ keyId: ARN, client: fakeClient(() => ({})) }).kekMatchers()).toEqual([{ providerId: 'aws-kms', keyId: ARN }]);
  });

  it('names a bare key id exactly and as the suffix of the key ARN its envelopes record', () => {
    const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(new AwsKmsKeyring({ keyId, client: fakeClient(() => ({})) }).kekMatchers()).toEqual([
      { providerId: 'aws-kms', keyId },
      { providerId: 'aws-kms', keyId: ':key/1234abcd-12ab-34cd-56ef-1234567890ab', match: 'suffix' },
    ]);
    expect(ARN.endsWith(':key/1234abcd-12ab-34cd-56ef-1234567890ab')).toBe(true);
  });

  it('cannot name the key behind an alias without asking KMS', () => {
    for (const keyId of ['alias/app', 'arn:aws:kms:eu-west-1:111122223333:alias/app']) {
      expect(new AwsKmsKeyring({ keyId, client: fakeClient(() => ({})) }).kekMatchers()).toBeUndefined();
    }
  });
});

describe('AwsKmsKeyring cancellation and timeout', () => {
  /** A KMS client that records the send options and never answers. */
  function hangingClient() {
    const options: ({ abortSignal?: AbortSignal } | undefined)[] = [];
    const client: AwsKmsClientLike = {
      send: ((_command: Sent, sendOptions?: { abortSignal?: AbortSignal }) => {
        options.push(sendOptions);
        return new Promise(() => undefined);
      }) as AwsKmsClientLike['send'],
    };
    return { client, options };
  }

  it('passes an abortSignal to every send, aborted when the caller aborts', async () => {
    const { client, options } = hangingClient();
    const controller = new AbortController();
    const pending = new AwsKmsKeyring({ keyId: ARN, client }).onDecrypt({ context, encryptedDataKeys: [edk(ARN)], signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    const abortSignal = options[0]?.abortSignal;
    expect(abortSignal?.aborted).toBe(false);
    controller.abort();
    await expect(pending).rejects.toBe(controller.signal.reason);
    expect(abortSignal?.aborted).toBe(true);
  });

  it('rejects with ERR_KMS_UNAVAILABLE, the timeout as cause, when KMS does not answer within timeoutMs', async () => {
    const error = await kmsRejection(new AwsKmsKeyring({ keyId: ARN, client: hangingClient().client, timeoutMs: 30 }).onEncrypt({ context }));
    expect(error.code).toBe('ERR_KMS_UNAVAILABLE');
    expect((error.cause as Error).name).toBe('TimeoutError');
  });

  it('refuses a timeoutMs that is not a positive number', () => {
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new AwsKmsKeyring({ keyId: ARN, client: hangingClient().client, timeoutMs })).toThrow(TypeError);
    }
  });
});
