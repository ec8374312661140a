// The S3EC raw keyrings and the V3 writer: objects written in V3 (metadata or instruction file, AES,
// RSA and KMS wrappings) read back through the parser; key ids, KEK matchers, legacy gating, and the
// misuse the writer refuses.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyringError } from '../src/errors.js';
import { parseS3ecEnvelope } from '../src/format/s3ec/envelope.js';
import { s3ecV3Encryptor, s3ecV3Metadata, s3ecV3WriteContext } from '../src/format/s3ec/v3-writer.js';
import type { Keyring } from '../src/keyrings/keyring.js';
import { S3ecAesKeyring } from '../src/keyrings/s3ec-aes.js';
import { s3ecMaterialDescriptionKeyId } from '../src/keyrings/s3ec-ids.js';
import { S3ecRsaKeyring } from '../src/keyrings/s3ec-rsa.js';
import { readObject } from './s3ec-helpers.js';

const wrappingKey = Buffer.alloc(32, 0x42);
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const plaintext = Buffer.from('the quick brown fox jumps over the lazy dog, '.repeat(20));

async function writeV3(writer: Keyring, instructionFile = false) {
  const context = s3ecV3WriteContext();
  const { dataKey, encryptedDataKeys } = await writer.onEncrypt({ context });
  const { cipher, messageId, keyCommitment } = s3ecV3Encryptor(dataKey);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  dataKey.fill(0);
  return { body, ...s3ecV3Metadata({ messageId, keyCommitment, encryptedDataKey: encryptedDataKeys[0]!, context, instructionFile }) };
}

describe('V3 objects written with the S3EC keyrings read back', () => {
  const cases: [string, Keyring, Keyring][] = [
    ['AES/GCM', new S3ecAesKeyring({ wrappingKey, materialDescription: { app: 'billing' } }), new S3ecAesKeyring({ wrappingKey, materialDescription: { app: 'billing' } })],
    ['AES/GCM, 128-bit key, no material description', new S3ecAesKeyring({ wrappingKey: wrappingKey.subarray(0, 16) }), new S3ecAesKeyring({ wrappingKey: wrappingKey.subarray(0, 16) })],
    ['RSA-OAEP-SHA1, public-only writer', new S3ecRsaKeyring({ publicKey, materialDescription: { app: 'ingest' } }), new S3ecRsaKeyring({ privateKey, materialDescription: { app: 'ingest' } })],
  ];
  for (const [label, writer, reader] of cases) {
    for (const instructionFile of [false, true]) {
      it(`${label}, ${instructionFile ? 'instruction file' : 'object metadata'}`, async () => {
        const written = await writeV3(writer, instructionFile);
        const envelope = parseS3ecEnvelope(written.metadata, written.instructionFile);
        expect(envelope.formatVersion).toBe(3);
        expect((await readObject(envelope, reader, written.body)).equals(plaintext)).toBe(true);
      });
    }
  }

  it('metadata names and values as the official v4 clients write them', async () => {
    const written = await writeV3(new S3ecAesKeyring({ wrappingKey, materialDescription: { b: '2', a: '1' } }));
    expect(Object.keys(written.metadata).sort()).toEqual(['x-amz-3', 'x-amz-c', 'x-amz-d', 'x-amz-i', 'x-amz-m', 'x-amz-w']);
    expect(written.metadata).toMatchObject({ 'x-amz-c': '115', 'x-amz-w': '02', 'x-amz-m': '{"a":"1","b":"2"}' });
    expect(Buffer.from(written.metadata['x-amz-3']!, 'base64')).toHaveLength(60);
    expect(Buffer.from(written.metadata['x-amz-i']!, 'base64')).toHaveLength(28);
    const empty = await writeV3(new S3ecAesKeyring({ wrappingKey }));
    expect(empty.metadata['x-amz-m']).toBeUndefined();
    const rsaFile = await writeV3(new S3ecRsaKeyring({ publicKey }), true);
    expect(Object.keys(rsaFile.metadata).sort()).toEqual(['x-amz-c', 'x-amz-d', 'x-amz-i']);
    expect(Object.keys(JSON.parse(rsaFile.instructionFile!) as object).sort()).toEqual(['x-amz-3', 'x-amz-w']);
  });

  it('KMS: x-amz-w 12 and x-amz-t the whole KMS context, which the reader gets back as stored', () => {
    const context = s3ecV3WriteContext({ tenant: 'acme', app: 'x' });
    expect(context).toEqual({ tenant: 'acme', app: 'x', 'aws:x-amz-cek-alg': '115' });
    const { messageId, keyCommitment } = s3ecV3Encryptor(Buffer.alloc(32, 1));
    const encryptedDataKey = { providerId: 'aws-kms', keyId: 'arn:aws:kms:eu-west-1:111122223333:key/k', ciphertext: Buffer.alloc(184, 3) };
    const { metadata } = s3ecV3Metadata({ messageId, keyCommitment, encryptedDataKey, context });
    expect(metadata).toMatchObject({ 'x-amz-w': '12', 'x-amz-t': '{"app":"x","aws:x-amz-cek-alg":"115","tenant":"acme"}' });
    expect(parseS3ecEnvelope(metadata).encryptionContext).toEqual(context);
  });
});

describe('S3EC keyrings: key ids, matchers, legacy, misuse', () => {
  it('key ids are the sorted material description; matchers claim every material description (RSA as public-key KEKs)', () => {
    const aes = new S3ecAesKeyring({ wrappingKey, materialDescription: { z: '1', a: '2' }, enableLegacyWrappingAlgorithms: true });
    expect(aes.keyId).toBe('{"a":"2","z":"1"}');
    expect(s3ecMaterialDescriptionKeyId({})).toBe('{}');
    expect(aes.kekMatchers().map((m) => m.providerId)).toEqual(['s3ec-aes-gcm', 's3ec-aes-wrap', 's3ec-aes-ecb']);
    // The format authenticates no material description: it cannot select keys, the unwrap decides.
    expect(new S3ecAesKeyring({ wrappingKey }).kekMatchers()).toEqual([{ providerId: 's3ec-aes-gcm', keyId: '{', match: 'prefix' }]);
    expect(new S3ecRsaKeyring({ publicKey }).kekMatchers()).toEqual([{ providerId: 's3ec-rsa-oaep-sha1', keyId: '{', match: 'prefix', publicKey: true }]);
  });

  it('legacy wrappings are refused unless enabled, with a message that says so', async () => {
    const request = { context: { 'aws:x-amz-cek-alg': 'AES/CBC/PKCS5Padding' }, encryptedDataKeys: [{ providerId: 's3ec-aes-wrap', keyId: '{}', ciphertext: Buffer.alloc(40) }] };
    const error = await new S3ecAesKeyring({ wrappingKey }).onDecrypt(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyringError);
    expect((error as KeyringError).code).toBe('ERR_KEY_UNWRAP_FAILED');
    expect((error as Error).message).toContain('legacy');
    const rsaLegacy = { ...request, encryptedDataKeys: [{ providerId: 's3ec-rsa-oaep-sha256', keyId: '{}', ciphertext: Buffer.alloc(256) }] };
    expect(((await new S3ecRsaKeyring({ privateKey }).onDecrypt(rsaLegacy).catch((e: unknown) => e)) as Error).message).toContain('legacy');
  });

  it('other providers are not claimed; a wrapped key under another material description is tried, and only the right key opens it', async () => {
    const keyring = new S3ecAesKeyring({ wrappingKey });
    const context = { 'aws:x-amz-cek-alg': '115' };
    expect(await keyring.onDecrypt({ context, encryptedDataKeys: [{ providerId: 'raw-aes', keyId: '{}', ciphertext: Buffer.alloc(60) }] })).toBeUndefined();
    await expect(keyring.onDecrypt({ context, encryptedDataKeys: [{ providerId: 's3ec-aes-gcm', keyId: '{"a":"b"}', ciphertext: Buffer.alloc(60) }] })).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    const labelled = new S3ecAesKeyring({ wrappingKey, materialDescription: { a: 'b' } });
    const { dataKey, encryptedDataKeys } = await labelled.onEncrypt({ context });
    expect(Buffer.from((await keyring.onDecrypt({ context, encryptedDataKeys }))!).equals(Buffer.from(dataKey))).toBe(true);
  });

  it('a public-only RSA keyring cannot decrypt its own keys', async () => {
    const writer = new S3ecRsaKeyring({ publicKey });
    expect(writer.canDecrypt).toBe(false);
    const { encryptedDataKeys } = await writer.onEncrypt({ context: s3ecV3WriteContext() });
    const error = await writer.onDecrypt({ context: s3ecV3WriteContext(), encryptedDataKeys }).catch((e: unknown) => e);
    expect((error as KeyringError).code).toBe('ERR_KEY_UNWRAP_FAILED');
  });

  it('API misuse is a TypeError', async () => {
    expect(() => new S3ecAesKeyring({ wrappingKey: Buffer.alloc(20) })).toThrow(TypeError);
    expect(() => new S3ecAesKeyring({ wrappingKey, materialDescription: { a: 1 as never } })).toThrow(TypeError);
    expect(() => new S3ecRsaKeyring({})).toThrow(TypeError);
    expect(() => new S3ecRsaKeyring({ publicKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey })).toThrow(TypeError);
    const aes = new S3ecAesKeyring({ wrappingKey });
    await expect(aes.onEncrypt({ context: { 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' } })).rejects.toThrow(TypeError);
    await expect(aes.onDecrypt({ context: {}, encryptedDataKeys: [{ providerId: 's3ec-aes-gcm', keyId: '{}', ciphertext: Buffer.alloc(60) }] })).rejects.toThrow(TypeError);
    expect(() => s3ecV3WriteContext({ 'aws:x-amz-cek-alg': 'x' })).toThrow(TypeError);
    expect(() => s3ecV3WriteContext({ kms_cmk_id: 'x' })).toThrow(TypeError);
    expect(() => s3ecV3Encryptor(Buffer.alloc(32), Buffer.alloc(28))).toThrow(TypeError);
    expect(() => s3ecV3Encryptor(Buffer.alloc(16))).toThrow(TypeError);
  });

  it('the writer refuses what S3EC cannot store', async () => {
    const { messageId, keyCommitment } = s3ecV3Encryptor(Buffer.alloc(32, 1));
    const aesKey = { providerId: 's3ec-aes-gcm', keyId: '{}', ciphertext: Buffer.alloc(60) };
    const kmsKey = { providerId: 'aws-kms', keyId: 'arn:aws:kms:r:1:key/k', ciphertext: Buffer.alloc(100) };
    const base = { messageId, keyCommitment };
    expect(() => s3ecV3Metadata({ ...base, encryptedDataKey: aesKey, context: s3ecV3WriteContext({ tenant: 'acme' }) })).toThrow(/material description/);
    expect(() => s3ecV3Metadata({ ...base, encryptedDataKey: kmsKey, context: s3ecV3WriteContext({ owner: 'Jürgen' }) })).toThrow(/US-ASCII/);
    expect(() => s3ecV3Metadata({ ...base, encryptedDataKey: kmsKey, context: { tenant: 'acme' } })).toThrow(TypeError);
    expect(() => s3ecV3Metadata({ ...base, encryptedDataKey: { ...aesKey, providerId: 'raw-aes' }, context: s3ecV3WriteContext() })).toThrow(TypeError);
    expect(() => s3ecV3Metadata({ ...base, encryptedDataKey: { ...aesKey, keyId: 'app-key' }, context: s3ecV3WriteContext() })).toThrow(TypeError);
  });
});
