// Parsing S3EC content metadata into a typed envelope: instruction files parsed (never compared as
// text) under the specification's placement rules, the KMS context bound to the content algorithm,
// S3's double encoding undone, and the wrapped key mapped onto s3crypt's EncryptedDataKey.
import { describe, expect, it } from 'vitest';
import { EnvelopeError, NotEncryptedError } from '../src/errors.js';
import { s3ecContextMatches, s3ecDecryptionContext, s3ecEncryptedDataKey } from '../src/format/s3ec/data-key.js';
import { isLegacyS3ecWrapAlgorithm, parseS3ecEnvelope } from '../src/format/s3ec/envelope.js';
import { parseS3ecMetadata } from '../src/format/s3ec/metadata.js';
import { objectsFile } from './s3ec-helpers.js';

const b64 = (length: number, fill = 7) => Buffer.alloc(length, fill).toString('base64');
const V3_OBJECT = { 'x-amz-c': '115', 'x-amz-d': b64(28, 1), 'x-amz-i': b64(28, 2) };
const V3_KMS = { ...V3_OBJECT, 'x-amz-3': b64(184), 'x-amz-w': '12', 'x-amz-t': '{"aws:x-amz-cek-alg":"115","tenant":"acme"}' };
const V2_KMS = {
  'x-amz-key-v2': b64(184),
  'x-amz-iv': b64(12),
  'x-amz-matdesc': '{"aws:x-amz-cek-alg":"AES/GCM/NoPadding"}',
  'x-amz-wrap-alg': 'kms+context',
  'x-amz-cek-alg': 'AES/GCM/NoPadding',
  'x-amz-tag-len': '128',
};

function malformed(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    expect((error as EnvelopeError).code).toBe('ERR_ENVELOPE_MALFORMED');
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('S3EC envelopes from object metadata', () => {
  it('V3 kms+context: bytes decoded, context as stored, mapped onto an aws-kms data key', () => {
    const envelope = parseS3ecEnvelope(V3_KMS);
    expect(envelope).toMatchObject({ formatVersion: 3, contentAlgorithm: 'ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY', wrapAlgorithm: 'kms+context', instructionFile: false });
    if (envelope.formatVersion !== 3) throw new Error('V3 expected');
    expect(Buffer.from(envelope.messageId)).toEqual(Buffer.alloc(28, 2));
    expect(Buffer.from(envelope.keyCommitment)).toEqual(Buffer.alloc(28, 1));
    expect(s3ecEncryptedDataKey(envelope)).toEqual({ providerId: 'aws-kms', keyId: '', ciphertext: Buffer.alloc(184, 7) });
    expect(s3ecEncryptedDataKey(envelope, { kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/k' }).keyId).toBe('arn:aws:kms:eu-west-1:111122223333:key/k');
    expect(s3ecDecryptionContext(envelope)).toEqual({ 'aws:x-amz-cek-alg': '115', tenant: 'acme' });
  });

  it('V2 kms+context from an old writer: kms_cmk_id names the key and stays in the KMS context', () => {
    const envelope = parseS3ecEnvelope({ ...V2_KMS, 'x-amz-matdesc': '{"kms_cmk_id":"arn:aws:kms:us-east-1:1:key/a","aws:x-amz-cek-alg":"AES/GCM/NoPadding"}' });
    expect(s3ecEncryptedDataKey(envelope).keyId).toBe('arn:aws:kms:us-east-1:1:key/a');
    expect(s3ecDecryptionContext(envelope)).toEqual({ kms_cmk_id: 'arn:aws:kms:us-east-1:1:key/a', 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' });
    expect(envelope.materialDescription).toEqual({});
  });

  it('raw wrappings: the material description is the key id (sorted, whatever the stored layout), the content algorithm the context', () => {
    const envelope = parseS3ecEnvelope({ ...V3_OBJECT, 'x-amz-3': b64(60), 'x-amz-w': '02', 'x-amz-m': '{ "b": "2",  "a": "1" }' });
    expect(s3ecEncryptedDataKey(envelope)).toMatchObject({ providerId: 's3ec-aes-gcm', keyId: '{"a":"1","b":"2"}' });
    expect(s3ecDecryptionContext(envelope)).toEqual({ 'aws:x-amz-cek-alg': '115' });
    const v2 = parseS3ecEnvelope({ ...V2_KMS, 'x-amz-wrap-alg': 'RSA-OAEP-SHA1', 'x-amz-matdesc': '{}' });
    expect(s3ecEncryptedDataKey(v2)).toMatchObject({ providerId: 's3ec-rsa-oaep-sha1', keyId: '{}' });
    expect(s3ecDecryptionContext(v2)).toEqual({ 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' });
  });

  it('V1 objects name no wrapping: AES when the wrapped key is at most 48 bytes, RSA otherwise (as the Java client infers)', () => {
    const v1 = { 'x-amz-iv': b64(16), 'x-amz-matdesc': '{}' };
    expect(parseS3ecEnvelope({ ...v1, 'x-amz-key': b64(48) }).wrapAlgorithm).toBe('AES');
    expect(parseS3ecEnvelope({ ...v1, 'x-amz-key': b64(256) }).wrapAlgorithm).toBe('RSA');
    expect(s3ecEncryptedDataKey(parseS3ecEnvelope({ ...v1, 'x-amz-key': b64(256) })).providerId).toBe('s3ec-rsa-pkcs1');
  });

  it('legacy wrappings are flagged', () => {
    expect(['AES/GCM', 'kms+context', 'RSA-OAEP-SHA1'].map((alg) => isLegacyS3ecWrapAlgorithm(alg as never))).toEqual([false, false, false]);
    expect(['AESWrap', 'kms', 'RSA/ECB/OAEPWithSHA-256AndMGF1Padding', 'AES', 'RSA'].every((alg) => isLegacyS3ecWrapAlgorithm(alg as never))).toBe(true);
  });

  it('a KMS context that does not bind the object content algorithm is refused (a rewritten x-amz-cek-alg)', () => {
    const { 'x-amz-tag-len': _tag, ...cbc } = V2_KMS;
    expect(malformed(() => parseS3ecEnvelope({ ...cbc, 'x-amz-cek-alg': 'AES/CBC/PKCS5Padding', 'x-amz-iv': b64(16) }))).toContain('aws:x-amz-cek-alg');
    expect(malformed(() => parseS3ecEnvelope({ ...V3_KMS, 'x-amz-t': '{"tenant":"acme"}' }))).toContain('(none)');
  });

  it('message ids and commitments of the wrong length are refused', () => {
    malformed(() => parseS3ecEnvelope({ ...V3_KMS, 'x-amz-i': b64(27) }));
    malformed(() => parseS3ecEnvelope({ ...V3_KMS, 'x-amz-d': b64(32) }));
  });

  it('no S3EC metadata is not an S3EC object; an instruction file is not an object', () => {
    expect(() => parseS3ecEnvelope({ other: 'x' })).toThrow(NotEncryptedError);
    malformed(() => parseS3ecEnvelope({ 'x-amz-crypto-instr-file': '' }));
  });

  it("S3's double encoding of non-ASCII metadata is undone as the Java and Go clients do", () => {
    const context = '{"aws:x-amz-cek-alg":"115","owner":"Jürgen"}';
    const doubled = Buffer.from(Buffer.from(context, 'utf8').toString('latin1'), 'utf8').toString('base64');
    expect(parseS3ecEnvelope({ ...V3_KMS, 'x-amz-t': `=?UTF-8?B?${doubled}?=` }).encryptionContext).toEqual({ 'aws:x-amz-cek-alg': '115', owner: 'Jürgen' });
    const single = Buffer.from(context, 'utf8').toString('base64');
    expect(parseS3ecEnvelope({ ...V3_KMS, 'x-amz-t': `=?UTF-8?B?${single}?=` }).encryptionContext).toEqual({ 'aws:x-amz-cek-alg': '115', owner: 'Jürgen' });
  });

  it('the reader context matches by the official rule: stored minus aws:x-amz-cek-alg and kms_cmk_id', () => {
    const envelope = parseS3ecEnvelope(V3_KMS);
    expect(s3ecContextMatches(envelope, { tenant: 'acme' })).toBe(true);
    expect(s3ecContextMatches(envelope, {})).toBe(false);
    expect(s3ecContextMatches(envelope, { tenant: 'acme', extra: 'x' })).toBe(false);
    expect(s3ecContextMatches(envelope, { tenant: 'other' })).toBe(false);
    expect(s3ecContextMatches(parseS3ecEnvelope({ ...V3_KMS, 'x-amz-t': '{"aws:x-amz-cek-alg":"115"}' }), {})).toBe(true);
  });
});

describe('S3EC instruction files', () => {
  const V3_FILE = { 'x-amz-3': b64(60), 'x-amz-w': '02', 'x-amz-m': '{"purpose":"test"}' };

  it('V3: compact, spaced, indented, any key order and a nested material description all parse alike', () => {
    const layouts = [
      JSON.stringify(V3_FILE),
      '{"x-amz-m": "{\\"purpose\\": \\"test\\"}", "x-amz-w": "02", "x-amz-3": "' + V3_FILE['x-amz-3'] + '"}',
      JSON.stringify({ 'x-amz-w': '02', 'x-amz-3': V3_FILE['x-amz-3'], 'x-amz-m': { purpose: 'test' } }, null, 4),
    ];
    const envelopes = layouts.map((layout) => parseS3ecEnvelope(V3_OBJECT, layout));
    for (const envelope of envelopes) expect(envelope).toEqual(envelopes[0]);
    expect(envelopes[0]).toMatchObject({ formatVersion: 3, wrapAlgorithm: 'AES/GCM', materialDescription: { purpose: 'test' }, instructionFile: true });
    expect(parseS3ecEnvelope(V3_OBJECT, Buffer.from(layouts[0]!))).toEqual(envelopes[0]);
  });

  it('the vectors: one object, three writers’ layouts, one envelope', () => {
    const files = objectsFile.vectors.filter((vector) => vector.description.startsWith('V3, RSA-OAEP-SHA1 wrap in an instruction file'));
    expect(files).toHaveLength(3);
    const envelopes = files.map((vector) => parseS3ecEnvelope(vector.metadata, vector.instructionFile));
    expect(envelopes[1]).toEqual(envelopes[0]);
    expect(envelopes[2]).toEqual(envelopes[0]);
  });

  it('V3: the file must not hold the content metadata c/d/i, nor V1/V2 names, and must hold x-amz-3 and x-amz-w', () => {
    for (const name of ['x-amz-c', 'x-amz-d', 'x-amz-i'] as const) {
      expect(malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, [name]: V3_OBJECT[name] })))).toContain('keeps in the object metadata');
    }
    malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, 'x-amz-iv': b64(12) })));
    malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ 'x-amz-3': b64(60) })));
    malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, 'x-amz-w': '99' })));
  });

  it('V3: an instruction file for an object whose metadata is complete is ignored', () => {
    expect(parseS3ecEnvelope(V3_KMS, JSON.stringify(V3_FILE))).toEqual(parseS3ecEnvelope(V3_KMS));
  });

  it('V3 without its file, or a file without the object content metadata, is refused', () => {
    expect(malformed(() => parseS3ecEnvelope(V3_OBJECT))).toContain('instruction file');
    malformed(() => parseS3ecEnvelope({}, JSON.stringify(V3_FILE)));
  });

  it('V1/V2: everything in the file; the object may keep only the claimed length', () => {
    const file = JSON.stringify(V2_KMS);
    expect(parseS3ecEnvelope({}, file)).toMatchObject({ formatVersion: 2, wrapAlgorithm: 'kms+context', instructionFile: true });
    expect(parseS3ecEnvelope({ 'x-amz-unencrypted-content-length': '5' }, file).claimedPlaintextLength).toBe(5);
    malformed(() => parseS3ecEnvelope({}, JSON.stringify({ ...V2_KMS, 'x-amz-c': '115' })));
    malformed(() => parseS3ecEnvelope({}, JSON.stringify({ 'x-amz-iv': b64(12) })));
  });

  it('not JSON, not an object, unknown or repeated names, non-string values, too large: refused', () => {
    malformed(() => parseS3ecEnvelope(V3_OBJECT, 'x-amz-3=abc'));
    malformed(() => parseS3ecEnvelope(V3_OBJECT, '["x-amz-3"]'));
    expect(malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, note: 'hi' })))).toContain('"note"');
    const repeated = `{"x-amz-3":"${b64(60, 9)}",${JSON.stringify(V3_FILE).slice(1)}`;
    expect(malformed(() => parseS3ecEnvelope(V3_OBJECT, repeated))).toContain('appears twice');
    malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, 'x-amz-w': 2 })));
    malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, 'x-amz-m': { a: 1 } })));
    malformed(() => parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, 'x-amz-m': JSON.stringify({ a: 'x'.repeat(40_000) }) })));
  });

  it('a material description that mentions a metadata name inside its JSON text is not a repeated name', () => {
    const envelope = parseS3ecEnvelope(V3_OBJECT, JSON.stringify({ ...V3_FILE, 'x-amz-m': '{"x-amz-3":"label"}' }));
    expect(envelope.materialDescription).toEqual({ 'x-amz-3': 'label' });
  });

  it('parseS3ecMetadata still tells the reader to fetch the file', () => {
    expect(parseS3ecMetadata(V3_OBJECT)).toMatchObject({ kind: 'object', formatVersion: 3, instructionFile: true });
  });
});
