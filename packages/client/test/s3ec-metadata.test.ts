// Recognising AWS S3 Encryption Client objects from their user metadata (V1, V2, V3, instruction
// files), strictly: every deviation from the S3EC specification is ERR_ENVELOPE_MALFORMED, and text
// from the store reaches messages only quoted.
import { describe, expect, it } from 'vitest';
import { EnvelopeError, DecryptionError } from '../src/errors.js';
import { checkS3ecStoredLength, parseS3ecMetadata, s3ecPlaintextLength, type S3ecContentMetadata } from '../src/format/s3ec/metadata.js';

const b64 = (length: number) => Buffer.alloc(length, 7).toString('base64');

/** Metadata as the Java S3EC (V2 format) writes it for a KMS-wrapped GCM object. */
const V2_KMS_GCM = {
  'x-amz-key-v2': b64(184),
  'x-amz-iv': b64(12),
  'x-amz-matdesc': '{"aws:x-amz-cek-alg":"AES/GCM/NoPadding"}',
  'x-amz-wrap-alg': 'kms+context',
  'x-amz-cek-alg': 'AES/GCM/NoPadding',
  'x-amz-tag-len': '128',
  'x-amz-unencrypted-content-length': '1000',
};

/** Metadata as a V3 writer stores it with the wrapped key in the object metadata. */
const V3_RAW_AES = {
  'x-amz-c': '115',
  'x-amz-3': b64(60),
  'x-amz-w': '02',
  'x-amz-m': '{"purpose":"test"}',
  'x-amz-d': b64(28),
  'x-amz-i': b64(28),
};

function parsed(metadata: Record<string, string>): S3ecContentMetadata {
  const result = parseS3ecMetadata(metadata);
  if (result?.kind !== 'object') throw new Error(`expected S3EC content metadata, got ${JSON.stringify(result)}`);
  return result;
}

function malformed(metadata: Record<string, string>): EnvelopeError {
  try {
    parseS3ecMetadata(metadata);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    expect((error as EnvelopeError).code).toBe('ERR_ENVELOPE_MALFORMED');
    return error as EnvelopeError;
  }
  throw new Error('the metadata was accepted');
}

describe('S3EC metadata recognised', () => {
  it('no S3EC metadata is not S3EC (plaintext, or an instruction-file object only that file can tell)', () => {
    expect(parseS3ecMetadata(undefined)).toBeUndefined();
    expect(parseS3ecMetadata({ team: 'x', 'x-amz-something-else': '1' })).toBeUndefined();
  });

  it('V2: algorithms, material description, wrapped key length, claimed length', () => {
    expect(parsed(V2_KMS_GCM)).toEqual({
      kind: 'object',
      formatVersion: 2,
      contentAlgorithm: 'AES/GCM/NoPadding',
      wrapAlgorithm: 'kms+context',
      materialDescription: { 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' },
      instructionFile: false,
      wrappedKeyLength: 184,
      claimedPlaintextLength: 1000,
    });
  });

  it('V2 with CBC content (legacy) and no tag length', () => {
    const { 'x-amz-tag-len': _tag, ...rest } = V2_KMS_GCM;
    const cbc = parsed({ ...rest, 'x-amz-cek-alg': 'AES/CBC/PKCS5Padding', 'x-amz-iv': b64(16), 'x-amz-wrap-alg': 'kms' });
    expect(cbc).toMatchObject({ formatVersion: 2, contentAlgorithm: 'AES/CBC/PKCS5Padding', wrapAlgorithm: 'kms' });
  });

  it('V1: CBC content, the material description naming a KMS key', () => {
    const v1 = parsed({ 'x-amz-key': b64(32), 'x-amz-iv': b64(16), 'x-amz-matdesc': '{"kms_cmk_id":"alias/app"}' });
    expect(v1).toMatchObject({ formatVersion: 1, contentAlgorithm: 'AES/CBC/PKCS5Padding', materialDescription: { kms_cmk_id: 'alias/app' }, instructionFile: false });
    expect(v1.wrapAlgorithm).toBeUndefined();
  });

  it('V3: compressed names translated (115, 02, 12)', () => {
    expect(parsed(V3_RAW_AES)).toEqual({
      kind: 'object',
      formatVersion: 3,
      contentAlgorithm: 'ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY',
      wrapAlgorithm: 'AES/GCM',
      materialDescription: { purpose: 'test' },
      instructionFile: false,
      wrappedKeyLength: 60,
    });
    const { 'x-amz-m': _m, ...kms } = V3_RAW_AES;
    expect(parsed({ ...kms, 'x-amz-w': '12', 'x-amz-t': '{"tenant":"acme"}' })).toMatchObject({ wrapAlgorithm: 'kms+context', encryptionContext: { tenant: 'acme' } });
  });

  it('V3 with its wrapped key in an instruction file', () => {
    expect(parsed({ 'x-amz-c': '115', 'x-amz-d': b64(28), 'x-amz-i': b64(28) })).toEqual({
      kind: 'object',
      formatVersion: 3,
      contentAlgorithm: 'ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY',
      instructionFile: true,
    });
  });

  it('V1/V2 with everything in an instruction file: only the claimed length is left', () => {
    expect(parsed({ 'x-amz-unencrypted-content-length': '5' })).toEqual({ kind: 'object', instructionFile: true, claimedPlaintextLength: 5 });
  });

  it('an instruction file itself', () => {
    expect(parseS3ecMetadata({ 'x-amz-crypto-instr-file': '' })).toEqual({ kind: 'instruction-file' });
  });

  it('names in any case (S3 lower-cases them; the SDK keeps what it gets)', () => {
    expect(parsed(Object.fromEntries(Object.entries(V2_KMS_GCM).map(([k, v]) => [k.toUpperCase(), v])))).toMatchObject({ formatVersion: 2 });
  });

  it("S3's double encoding of non-ASCII material descriptions (RFC 2047 B and Q words)", () => {
    const json = '{"owner":"Jürgen"}';
    const b = `=?UTF-8?B?${Buffer.from(json).toString('base64')}?=`;
    expect(parsed({ ...V2_KMS_GCM, 'x-amz-matdesc': b }).materialDescription).toEqual({ owner: 'Jürgen' });
    expect(parsed({ ...V2_KMS_GCM, 'x-amz-matdesc': '=?UTF-8?Q?{"owner":"J=C3=BCrgen"}?=' }).materialDescription).toEqual({ owner: 'Jürgen' });
  });
});

describe('S3EC metadata refused (ERR_ENVELOPE_MALFORMED)', () => {
  it('two wrapped keys', () => {
    expect(malformed({ ...V2_KMS_GCM, 'x-amz-key': b64(32) }).message).toContain('more than one wrapped key');
    expect(malformed({ ...V3_RAW_AES, 'x-amz-key-v2': b64(32) }).message).toContain('more than one wrapped key');
  });

  it('one name twice, differing in case', () => {
    expect(malformed({ ...V2_KMS_GCM, 'X-Amz-Iv': b64(12) }).message).toContain('appears twice');
  });

  it('V3 and V2 names mixed', () => {
    malformed({ ...V3_RAW_AES, 'x-amz-iv': b64(12) });
  });

  it('V2 without a required name, or with unknown algorithms', () => {
    for (const name of ['x-amz-iv', 'x-amz-matdesc', 'x-amz-wrap-alg', 'x-amz-cek-alg', 'x-amz-tag-len']) {
      const { [name]: _dropped, ...rest } = V2_KMS_GCM as Record<string, string>;
      malformed(rest);
    }
    malformed({ ...V2_KMS_GCM, 'x-amz-cek-alg': 'AES/CTR/NoPadding' });
    malformed({ ...V2_KMS_GCM, 'x-amz-wrap-alg': 'rot13' });
    malformed({ ...V2_KMS_GCM, 'x-amz-tag-len': '96' });
    malformed({ ...V2_KMS_GCM, 'x-amz-iv': b64(16) });
  });

  it('V1 with V2 names', () => {
    malformed({ 'x-amz-key': b64(32), 'x-amz-iv': b64(16), 'x-amz-matdesc': '{}', 'x-amz-cek-alg': 'AES/GCM/NoPadding' });
  });

  it('content metadata without any wrapped key', () => {
    malformed({ 'x-amz-iv': b64(12), 'x-amz-matdesc': '{}' });
  });

  it('V3 missing its commitment or message id, a half-present wrapped key, unknown codes', () => {
    for (const name of ['x-amz-c', 'x-amz-d', 'x-amz-i', 'x-amz-w']) {
      const { [name]: _dropped, ...rest } = V3_RAW_AES as Record<string, string>;
      malformed(rest);
    }
    malformed({ 'x-amz-c': '115', 'x-amz-d': b64(28), 'x-amz-i': b64(28), 'x-amz-w': '02' });
    malformed({ ...V3_RAW_AES, 'x-amz-w': '99' });
    malformed({ ...V3_RAW_AES, 'x-amz-c': '116' });
    malformed({ ...V3_RAW_AES, 'x-amz-d': 'not base64!' });
  });

  it('material descriptions that are not small JSON objects of strings', () => {
    malformed({ ...V2_KMS_GCM, 'x-amz-matdesc': 'kms_cmk_id=x' });
    malformed({ ...V2_KMS_GCM, 'x-amz-matdesc': '["a"]' });
    malformed({ ...V2_KMS_GCM, 'x-amz-matdesc': '{"a":1}' });
    malformed({ ...V2_KMS_GCM, 'x-amz-matdesc': JSON.stringify({ a: 'x'.repeat(9000) }) });
    malformed({ ...V2_KMS_GCM, 'x-amz-matdesc': JSON.stringify(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))) });
  });

  it('a claimed length that is not a length', () => {
    malformed({ ...V2_KMS_GCM, 'x-amz-unencrypted-content-length': '-1' });
    malformed({ ...V2_KMS_GCM, 'x-amz-unencrypted-content-length': '99999999999999999' });
  });

  it('an instruction-file marker on an object with content metadata', () => {
    malformed({ ...V2_KMS_GCM, 'x-amz-crypto-instr-file': '' });
  });

  it('quotes what the store sent', () => {
    const message = malformed({ ...V2_KMS_GCM, 'x-amz-wrap-alg': 'evil\u202e\nline' }).message;
    expect(message).toContain('"evil\\u{202e}\\u{a}line"');
    expect(message).not.toMatch(/[\n\u202e]/);
  });
});

describe('S3EC plaintext length without decrypting', () => {
  const gcm = parsed(V2_KMS_GCM);
  const { 'x-amz-tag-len': _tag, ...cbcMetadata } = V2_KMS_GCM;
  const cbc = parsed({ ...cbcMetadata, 'x-amz-cek-alg': 'AES/CBC/PKCS5Padding', 'x-amz-iv': b64(16), 'x-amz-unencrypted-content-length': '1000' });

  it('GCM: the stored length less the 16-byte tag, whatever the metadata claims', () => {
    expect(s3ecPlaintextLength(gcm, 1016)).toBe(1000);
    expect(s3ecPlaintextLength(gcm, 5016)).toBe(5000);
  });

  it('CBC: the claimed length only when padding can explain the stored length', () => {
    expect(s3ecPlaintextLength(cbc, 1008)).toBe(1000);
    expect(s3ecPlaintextLength(cbc, 1024)).toBeUndefined();
    expect(s3ecPlaintextLength(cbc, 1000)).toBeUndefined();
  });

  it('stored lengths the algorithm cannot produce', () => {
    expect(() => checkS3ecStoredLength(gcm, 15)).toThrow(DecryptionError);
    expect(() => checkS3ecStoredLength(cbc, 1001)).toThrow(DecryptionError);
    expect(() => checkS3ecStoredLength(gcm, 16)).not.toThrow();
  });
});
