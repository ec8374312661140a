import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PlaintextChecksums, withPlaintextChecksums } from '../src/client/plaintext-checksums.js';

const CHECK = Buffer.from('123456789');
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const hash = (algorithm: string, data: Uint8Array) => createHash(algorithm).update(data).digest('base64');
const crc32Hex = (data: Uint8Array) => crc32(data).toString(16).padStart(8, '0');

// Independent references: node:crypto, node:zlib, and the published check values of each CRC
// ("123456789") and XXH64 ("").
const RIGHT: Record<string, string> = {
  ContentMD5: hash('md5', CHECK),
  ChecksumCRC32: b64(crc32Hex(CHECK)),
  ChecksumCRC32C: b64('e3069283'),
  ChecksumCRC64NVME: b64('ae8b14860a799888'),
  ChecksumSHA1: hash('sha1', CHECK),
  ChecksumSHA256: hash('sha256', CHECK),
  ChecksumSHA512: hash('sha512', CHECK),
  ChecksumMD5: hash('md5', CHECK),
};

async function verified(input: object, chunks: readonly Uint8Array[]) {
  const checksums = PlaintextChecksums.of(input);
  for (const chunk of chunks) checksums.update(chunk);
  return checksums.verify();
}

describe('PlaintextChecksums', () => {
  it.each(Object.entries(RIGHT))('a right %s is accepted, also when the plaintext comes in pieces', async (field, value) => {
    const values = await verified({ [field]: value }, [CHECK.subarray(0, 4), CHECK.subarray(4)]);
    expect(values).toEqual(field === 'ContentMD5' ? {} : { [field]: value });
  });

  it('XXHASH64 of the empty string is its published value', async () => {
    expect(await verified({ ChecksumXXHASH64: b64('ef46db3751d8e999') }, [])).toEqual({ ChecksumXXHASH64: b64('ef46db3751d8e999') });
  });

  it.each(Object.keys(RIGHT))('a wrong %s fails as S3 fails it: BadDigest, client fault, 400', async (field) => {
    const wrong = Buffer.from(RIGHT[field]!, 'base64');
    wrong[0]! ^= 1;
    await expect(verified({ [field]: wrong.toString('base64') }, [CHECK])).rejects.toMatchObject({
      name: 'BadDigest',
      Code: 'BadDigest',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it.each(['not base64!', 'AAAA', ''])('a malformed ContentMD5 (%j) is InvalidDigest before any digest', (value) => {
    expect(() => PlaintextChecksums.of({ ContentMD5: value })).toThrow(expect.objectContaining({ name: 'InvalidDigest', $metadata: { httpStatusCode: 400 } }));
  });

  it('the checksum of ChecksumAlgorithm is computed for the output even without a value to check', async () => {
    expect(await verified({ ChecksumAlgorithm: 'SHA256' }, [CHECK])).toEqual({ ChecksumSHA256: RIGHT.ChecksumSHA256 });
    expect(await verified({}, [CHECK])).toEqual({});
  });

  it('tap verifies when the source ends, before its consumer sees the end', async () => {
    const checksums = PlaintextChecksums.of({ ChecksumSHA256: hash('sha256', Buffer.from('other')) });
    const seen: Uint8Array[] = [];
    const consume = async () => {
      for await (const chunk of checksums.tap(Readable.from([CHECK]))) seen.push(chunk);
    };
    await expect(consume()).rejects.toMatchObject({ name: 'BadDigest' });
    expect(seen).toEqual([CHECK]);
  });
});

describe('withPlaintextChecksums', () => {
  it('drops every checksum S3 computed over the ciphertext and reports the plaintext ones', () => {
    const output = { ETag: '"e"', ChecksumCRC32: 'cipher', ChecksumSHA256: 'cipher', ChecksumType: 'FULL_OBJECT', $metadata: {} };
    expect(withPlaintextChecksums(output, {}, 'FULL_OBJECT')).toEqual({ ETag: '"e"', $metadata: {} });
    expect(withPlaintextChecksums(output, { ChecksumSHA256: 'plain' }, 'FULL_OBJECT')).toEqual({ ETag: '"e"', ChecksumSHA256: 'plain', ChecksumType: 'FULL_OBJECT', $metadata: {} });
  });
});
