// CustomerKeyring (docs/FORMAT.md §10) and the client's handling of SSE-C fields, without a server.
import { LayoutHints } from '../src/client/layout-hints.js';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { recordSecret } from '../../../test/harness/audit-recording.js';
import { customerKeyRequest } from '../src/client/customer-keys.js';
import type { HandlerContext } from '../src/client/context.js';
import { keyedEnvelope, ResolvedKeyPolicy } from '../src/client/key-policy.js';
import { MultipartUploads } from '../src/client/multipart-state.js';
import { plaintextReadPolicy } from '../src/client/plaintext-reads.js';
import { CustomerKeyError, KeyringError } from '../src/errors.js';
import { findEnvelope, parseEnvelope } from '../src/format/envelope.js';
import { CustomerKeyring } from '../src/keyrings/customer-key.js';
import { objectEncryptionContext, type EncryptedDataKey } from '../src/keyrings/keyring.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import { PROVIDER_ID, specKeyId, specUnwrap } from './customer-key-spec.js';
import { BUCKET, getInMemory, KEY, pattern, putInMemory, testKeyring } from './helpers.js';

function customerKey(): Buffer {
  const key = randomBytes(32);
  recordSecret('customer key', key);
  return key;
}

const context = objectEncryptionContext(BUCKET, KEY);

async function wrapped(keyring: CustomerKeyring, dataKey = randomBytes(32), under = context): Promise<EncryptedDataKey> {
  const { encryptedDataKeys } = await keyring.onEncrypt({ context: under, dataKey });
  expect(encryptedDataKeys).toHaveLength(1);
  return encryptedDataKeys[0]!;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('resolved'),
    (error: unknown) => error,
  );
}

describe('CustomerKeyring', () => {
  it('wraps and unwraps a data key, as docs/FORMAT.md §10 says byte by byte', async () => {
    const key = customerKey();
    const keyring = new CustomerKeyring(key);
    const dataKey = randomBytes(32);
    const edk = await wrapped(keyring, dataKey);
    expect(edk.providerId).toBe(PROVIDER_ID);
    expect(edk.keyId).toMatch(/^v1\.[A-Za-z0-9_-]{64}$/);
    expect(edk.ciphertext).toHaveLength(48);
    expect(specUnwrap(key, edk, context).equals(dataKey)).toBe(true);
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys: [edk] }))!).equals(dataKey)).toBe(true);
  });

  it('the fingerprint is unlinkable: one key, two wraps (even of one data key), two unrelated key ids', async () => {
    const key = customerKey();
    const keyring = new CustomerKeyring(key);
    const dataKey = randomBytes(32);
    const first = await wrapped(keyring, dataKey);
    const second = await wrapped(keyring, dataKey);
    expect(first.keyId).not.toBe(second.keyId);
    expect(Buffer.from(first.ciphertext).equals(Buffer.from(second.ciphertext))).toBe(false);
    // Salt and MAC both differ: nothing in one key id predicts the other.
    const bytes = (keyId: string) => Buffer.from(keyId.slice(3), 'base64url');
    expect(bytes(first.keyId).subarray(0, 16).equals(bytes(second.keyId).subarray(0, 16))).toBe(false);
    expect(bytes(first.keyId).subarray(16).equals(bytes(second.keyId).subarray(16))).toBe(false);
    expect(keyring.recognizes(first.keyId) && keyring.recognizes(second.keyId)).toBe(true);
  });

  it('the fingerprint reveals nothing about the key: not the key, nor its unsalted MD5 / SHA-256, in any encoding', async () => {
    const key = customerKey();
    const edk = await wrapped(new CustomerKeyring(key));
    const forms = [key, createHash('md5').update(key).digest(), createHash('sha256').update(key).digest()].flatMap((bytes) => [
      bytes.toString('hex'),
      bytes.toString('base64'),
      bytes.toString('base64url'),
      bytes.subarray(0, 8).toString('hex'),
      bytes.subarray(0, 6).toString('base64url'),
    ]);
    for (const form of forms) expect(edk.keyId.toLowerCase()).not.toContain(form.toLowerCase());
    expect(new CustomerKeyring(customerKey()).recognizes(edk.keyId)).toBe(false);
  });

  it('a wrong key fails with ERR_CUSTOMER_KEY_MISMATCH on the fingerprint, before any unwrap', async () => {
    const right = new CustomerKeyring(customerKey());
    const wrong = new CustomerKeyring(customerKey());
    const edk = await wrapped(right);
    const error = await rejection(wrong.onDecrypt({ context, encryptedDataKeys: [edk] }));
    expect(error).toBeInstanceOf(CustomerKeyError);
    expect(error).toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    // The verdict comes from the fingerprint alone: with garbage in place of the wrapped key the
    // wrong key still says "mismatch", while the right key, whose fingerprint matches, reaches the
    // unwrap and fails there.
    const garbage = { ...edk, ciphertext: randomBytes(48) };
    expect(await rejection(wrong.onDecrypt({ context, encryptedDataKeys: [garbage] }))).toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    expect(await rejection(right.onDecrypt({ context, encryptedDataKeys: [garbage] }))).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
  });

  it('a tampered fingerprint is a mismatch; a malformed one or a wrapped key of the wrong length is ERR_KEY_UNWRAP_FAILED', async () => {
    const keyring = new CustomerKeyring(customerKey());
    const edk = await wrapped(keyring);
    const bytes = Buffer.from(edk.keyId.slice(3), 'base64url');
    for (const index of [0, 15, 16, 47]) {
      const flipped = Buffer.from(bytes);
      flipped[index]! ^= 0x01;
      expect(await rejection(keyring.onDecrypt({ context, encryptedDataKeys: [{ ...edk, keyId: `v1.${flipped.toString('base64url')}` }] }))).toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    }
    for (const keyId of ['v1.', `v1.${bytes.toString('base64')}==`, `v1.${bytes.subarray(1).toString('base64url')}`, `${edk.keyId}A`]) {
      const error = await rejection(keyring.onDecrypt({ context, encryptedDataKeys: [{ ...edk, keyId }] }));
      expect(error).toBeInstanceOf(KeyringError);
      expect(error).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    }
    expect(await rejection(keyring.onDecrypt({ context, encryptedDataKeys: [{ ...edk, ciphertext: edk.ciphertext.subarray(1) }] }))).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
  });

  it('binds the encryption context: another bucket, key, format or caller context does not unwrap', async () => {
    const keyring = new CustomerKeyring(customerKey());
    const edk = await wrapped(keyring);
    for (const other of [
      objectEncryptionContext('other-bucket', KEY),
      objectEncryptionContext(BUCKET, 'other-key'),
      objectEncryptionContext(BUCKET, KEY, 1),
      objectEncryptionContext(BUCKET, KEY, 2, { tenant: 'acme' }),
    ]) {
      expect(await rejection(keyring.onDecrypt({ context: other, encryptedDataKeys: [edk] }))).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    }
  });

  it('takes only its own provider’s wrapped keys, and names them by prefix', async () => {
    const keyring = new CustomerKeyring(customerKey());
    const edk = await wrapped(keyring);
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [{ ...edk, providerId: 'raw-aes' }] })).toBeUndefined();
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [] })).toBeUndefined();
    expect(keyring.kekMatchers()).toEqual([{ providerId: 's3crypt-customer-key', keyId: 'v1.', match: 'prefix' }]);
  });

  it('refuses anything but a 32-byte Uint8Array with a TypeError', () => {
    for (const bad of [new Uint8Array(0), new Uint8Array(16), new Uint8Array(31), new Uint8Array(33), new Uint8Array(64), 'a'.repeat(32), undefined, null, [...randomBytes(32)]]) {
      expect(() => new CustomerKeyring(bad as unknown as Uint8Array)).toThrow(TypeError);
    }
  });

  it('destroy() zeroes the key: later calls throw', async () => {
    const keyring = new CustomerKeyring(customerKey());
    const edk = await wrapped(keyring);
    keyring.destroy();
    expect(() => keyring.recognizes(edk.keyId)).toThrow(TypeError);
    await expect(keyring.onEncrypt({ context })).rejects.toThrow(TypeError);
  });

  it('the given key is copied: zeroing the caller’s buffer changes nothing', async () => {
    const key = customerKey();
    const keyring = new CustomerKeyring(key);
    const edk = await wrapped(keyring);
    const copy = Buffer.from(key);
    key.fill(0);
    expect(keyring.recognizes(edk.keyId)).toBe(true);
    expect(new CustomerKeyring(copy).recognizes(edk.keyId)).toBe(true);
  });
});

describe('customer-key objects through the key seam and the key policy', () => {
  it('round trip: a customer-key object reads with the key, and with the wrong key fails before any plaintext', async () => {
    const key = customerKey();
    const plaintext = pattern(10_000);
    const stored = await putInMemory(new CustomerKeyring(key), plaintext, 4096);
    expect((await getInMemory(new CustomerKeyring(key), stored)).equals(plaintext)).toBe(true);
    expect(await rejection(getInMemory(new CustomerKeyring(customerKey()), stored))).toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
  });

  it('a reader without the key (its own keyring, or discovery) gets ERR_CUSTOMER_KEY_REQUIRED before any keyring call', async () => {
    const stored = await putInMemory(new CustomerKeyring(customerKey()), pattern(100), 4096);
    const calls: string[] = [];
    const counting = testKeyring();
    const spy = { ...counting, kekMatchers: () => counting.kekMatchers(), onEncrypt: counting.onEncrypt.bind(counting), onDecrypt: (r: never) => (calls.push('decrypt'), counting.onDecrypt(r)) };
    for (const policy of [undefined, { trustedKeks: 'discovery' as const }]) {
      const error = await rejection(getInMemory(spy, stored, undefined, KEY, policy ? { policy } : {}));
      expect(error).toBeInstanceOf(CustomerKeyError);
      expect(error).toMatchObject({ code: 'ERR_CUSTOMER_KEY_REQUIRED' });
    }
    expect(calls).toEqual([]);
  });

  it('a customer key presented for an object under a keyring: ERR_CUSTOMER_KEY_NOT_APPLICABLE', async () => {
    const keyring = testKeyring();
    const stored = await putInMemory(keyring, pattern(100), 4096);
    const envelope = parseEnvelope(findEnvelope(stored.metadata)!);
    const customer = new CustomerKeyring(customerKey());
    const policy = new ResolvedKeyPolicy(undefined, keyring).forCustomerKey(customer);
    expect(() => policy.candidates(keyedEnvelope(envelope), 'the object')).toThrow(expect.objectContaining({ code: 'ERR_CUSTOMER_KEY_NOT_APPLICABLE' }));
  });

  it('the customer-key policy keeps the client policy’s limits (here the minimum format version)', async () => {
    const key = customerKey();
    const stored = await putInMemory(new CustomerKeyring(key), pattern(100), 4096, KEY, { version: 1 });
    const envelope = parseEnvelope(findEnvelope(stored.metadata)!);
    const policy = new ResolvedKeyPolicy({ minFormatVersion: 2 }, testKeyring()).forCustomerKey(new CustomerKeyring(key));
    expect(() => policy.candidates(keyedEnvelope(envelope), 'the object')).toThrow(expect.objectContaining({ code: 'ERR_FORMAT_VERSION_NOT_ALLOWED' }));
  });

  it('escrow: a data key under the customer key and the client keyring reads with either', async () => {
    const key = customerKey();
    const keyring = testKeyring();
    const plaintext = pattern(3000);
    const stored = await putInMemory(new MultiKeyring({ generator: new CustomerKeyring(key), children: [keyring] }), plaintext, 4096);
    expect(parseEnvelope(findEnvelope(stored.metadata)!).encryptedDataKeys.map((edk) => edk.providerId)).toEqual(['s3crypt-customer-key', 'raw-aes']);
    expect((await getInMemory(new CustomerKeyring(key), stored)).equals(plaintext)).toBe(true);
    expect((await getInMemory(keyring, stored)).equals(plaintext)).toBe(true);
  });
});

describe('SSE-C fields of a command, handled client-side', () => {
  const base: HandlerContext = {
    inner: {} as never,
    keyring: testKeyring(),
    policy: new ResolvedKeyPolicy(undefined, testKeyring()),
    segmentSize: 4096,
    plaintextReads: plaintextReadPolicy(undefined),
    uploads: new MultipartUploads(),
    layoutHints: new LayoutHints(),
  };

  it('accepts the forms the SDK accepts (raw bytes, base64, a 32-character string) as one key, and strips every field', async () => {
    const key = Buffer.from('0123456789abcdef0123456789ABCDEF');
    const edk = await wrapped(new CustomerKeyring(key));
    const md5 = createHash('md5').update(key).digest('base64');
    for (const form of [key, new Uint8Array(key), key.toString('base64'), key.toString('latin1')]) {
      const input = { Bucket: 'b', Key: 'k', SSECustomerAlgorithm: 'AES256', SSECustomerKey: form, SSECustomerKeyMD5: md5 };
      const request = customerKeyRequest(base, 'GetObject', input, 'client-side', false);
      expect(request.input).toEqual({ Bucket: 'b', Key: 'k' });
      expect(input.SSECustomerKey).toBe(form); // the caller's input is not modified
      expect(request.ctx.customerKey?.recognizes(edk.keyId)).toBe(true);
      expect(request.ctx.keyring).toBe(request.ctx.customerKey);
      request.release();
      expect(() => request.ctx.customerKey!.recognizes(edk.keyId)).toThrow(TypeError);
    }
  });

  it('refuses misuse with a TypeError: a wrong MD5, a missing or other algorithm, a key of another length', () => {
    const key = randomBytes(32);
    const md5 = createHash('md5').update(key).digest('base64');
    const bad: Record<string, unknown>[] = [
      { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key, SSECustomerKeyMD5: createHash('md5').update(randomBytes(32)).digest('base64') },
      { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key, SSECustomerKeyMD5: createHash('md5').update(key).digest('hex') },
      { SSECustomerKey: key },
      { SSECustomerAlgorithm: 'aws:kms', SSECustomerKey: key },
      { SSECustomerAlgorithm: 'AES256' },
      { SSECustomerKeyMD5: md5 },
      { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.subarray(0, 16) },
      { SSECustomerAlgorithm: 'AES256', SSECustomerKey: randomBytes(16).toString('base64') },
      { SSECustomerAlgorithm: 'AES256', SSECustomerKey: 42 },
    ];
    for (const fields of bad) expect(() => customerKeyRequest(base, 'PutObject', { Bucket: 'b', Key: 'k', ...fields }, 'client-side', false)).toThrow(TypeError);
    // The message never carries the key.
    try {
      customerKeyRequest(base, 'PutObject', { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key, SSECustomerKeyMD5: 'AAAA' }, 'client-side', false);
    } catch (error) {
      for (const form of [key.toString('hex'), key.toString('base64'), md5]) expect((error as Error).message).not.toContain(form);
    }
  });

  it('CopyObject: each side gets its own keys, and a side without a key keeps the client’s', () => {
    const source = randomBytes(32);
    const destination = randomBytes(32);
    const both = customerKeyRequest(
      base,
      'CopyObject',
      { CopySource: 'b/s', Bucket: 'b', Key: 'd', CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: source, SSECustomerAlgorithm: 'AES256', SSECustomerKey: destination },
      'client-side',
      false,
    );
    expect(both.input).toEqual({ CopySource: 'b/s', Bucket: 'b', Key: 'd' });
    expect(both.ctx.source?.keyring).toBeInstanceOf(CustomerKeyring);
    expect(both.ctx.source?.keyring).not.toBe(both.ctx.keyring);
    const sourceOnly = customerKeyRequest(base, 'CopyObject', { CopySource: 'b/s', Bucket: 'b', Key: 'd', CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: source }, 'client-side', false);
    expect(sourceOnly.ctx.keyring).toBe(base.keyring);
    expect(sourceOnly.ctx.source?.keyring).toBeInstanceOf(CustomerKeyring);
    const destinationOnly = customerKeyRequest(base, 'CopyObject', { CopySource: 'b/s', Bucket: 'b', Key: 'd', SSECustomerAlgorithm: 'AES256', SSECustomerKey: destination }, 'client-side', true);
    expect(destinationOnly.ctx.source).toEqual({ keyring: base.keyring, policy: base.policy });
    expect(destinationOnly.ctx.keyring).toBeInstanceOf(MultiKeyring);
  });

  it("'store' leaves the fields and the context alone", () => {
    const input = { Bucket: 'b', Key: 'k', SSECustomerAlgorithm: 'AES256', SSECustomerKey: randomBytes(32) };
    const request = customerKeyRequest(base, 'PutObject', input, 'store', false);
    expect(request.input).toBe(input);
    expect(request.ctx).toBe(base);
  });
});

interface VectorFile {
  customerKeyHex: string;
  edks: { description: string; context: Record<string, string>; saltHex: string; dataKeyHex: string; providerId: string; keyId: string; ciphertextHex: string }[];
  object: { description: string; bucket: string; key: string; callerContext: Record<string, string>; plaintext: string; metadata: Record<string, string>; stored: string };
}

describe('customer-key test vectors (vectors/customer-key.json) still read', () => {
  const file = JSON.parse(readFileSync(new URL('./vectors/customer-key.json', import.meta.url), 'utf8')) as VectorFile;
  const key = Buffer.from(file.customerKeyHex, 'hex');

  for (const vector of file.edks) {
    it(`EDK: ${vector.description}`, async () => {
      const edk = { providerId: vector.providerId, keyId: vector.keyId, ciphertext: Buffer.from(vector.ciphertextHex, 'hex') };
      expect(edk.keyId).toBe(specKeyId(key, Buffer.from(vector.saltHex, 'hex')));
      const dataKey = await new CustomerKeyring(key).onDecrypt({ context: vector.context, encryptedDataKeys: [edk] });
      expect(Buffer.from(dataKey!).toString('hex')).toBe(vector.dataKeyHex);
      expect(await rejection(new CustomerKeyring(Buffer.alloc(32, 0xee)).onDecrypt({ context: vector.context, encryptedDataKeys: [edk] }))).toMatchObject({ code: 'ERR_CUSTOMER_KEY_MISMATCH' });
    });
  }

  it(`object: ${file.object.description}`, async () => {
    expect([file.object.bucket, file.object.key]).toEqual([BUCKET, KEY]);
    const stored = { metadata: file.object.metadata, body: Buffer.from(file.object.stored, 'base64') };
    const plaintext = await getInMemory(new CustomerKeyring(key), stored, undefined, KEY, { callerContext: file.object.callerContext });
    expect(plaintext.toString('base64')).toBe(file.object.plaintext);
  });
});
