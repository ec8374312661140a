// Integrity values a caller computed over the plaintext (ContentMD5, x-amz-checksum-*) cannot travel
// with the ciphertext, so they are checked here, over the plaintext as it is encrypted, and a
// mismatch fails as S3 fails it, before the request that would store anything completes.
import { S3ServiceException, type ChecksumAlgorithm } from '@aws-sdk/client-s3';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { Md5 } from '@aws-sdk/checksums/md5';
import { Sha1, Sha256, Sha512 } from '@aws-sdk/checksums/sha';
import { Xxh3_128, Xxh3_64, Xxh64 } from '@aws-sdk/checksums/xxh';
import { CHECKSUM_FIELDS, type ChecksumField } from './context.js';

interface Digest {
  update(data: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

const ALGORITHMS: Readonly<Record<ChecksumField, { readonly algorithm: ChecksumAlgorithm; readonly create: () => Digest }>> = {
  ChecksumCRC32: { algorithm: 'CRC32', create: () => new Crc32() },
  ChecksumCRC32C: { algorithm: 'CRC32C', create: () => new Crc32c() },
  ChecksumCRC64NVME: { algorithm: 'CRC64NVME', create: () => new Crc64Nvme() },
  ChecksumSHA1: { algorithm: 'SHA1', create: () => new Sha1() },
  ChecksumSHA256: { algorithm: 'SHA256', create: () => new Sha256() },
  ChecksumSHA512: { algorithm: 'SHA512', create: () => new Sha512() },
  ChecksumMD5: { algorithm: 'MD5', create: () => new Md5() },
  ChecksumXXHASH64: { algorithm: 'XXHASH64', create: () => new Xxh64() },
  ChecksumXXHASH3: { algorithm: 'XXHASH3', create: () => new Xxh3_64() },
  ChecksumXXHASH128: { algorithm: 'XXHASH128', create: () => new Xxh3_128() },
};

/** Checksum values by field, as S3 inputs and outputs carry them (base64). */
export type ChecksumValues = Partial<Record<ChecksumField, string>>;

interface Expectation {
  readonly field: ChecksumField | 'ContentMD5';
  readonly expected: string | undefined;
  readonly digest: Digest;
}

/** The checksums the SDK computes without extra configuration (others need the client's `checksumAlgorithms`). */
const TRANSPORT_FIELDS: readonly ChecksumField[] = ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256'];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function s3Error(name: string, message: string): S3ServiceException {
  return Object.assign(new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message }), { Code: name });
}

function mismatch(field: Expectation['field']): S3ServiceException {
  if (field === 'ContentMD5') return s3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  return s3Error('BadDigest', `The ${ALGORITHMS[field].algorithm} you specified did not match the calculated checksum.`);
}

/** The checksum value fields of an input or output, without the undefined ones. */
export function checksumValuesOf(values: ChecksumValues): ChecksumValues {
  return Object.fromEntries(CHECKSUM_FIELDS.filter((field) => values[field] !== undefined).map((field) => [field, values[field]]));
}

function isChecksumField(name: unknown): name is ChecksumField {
  return typeof name === 'string' && (CHECKSUM_FIELDS as readonly string[]).includes(name);
}

/**
 * The plaintext integrity values of one PutObject or UploadPart: every value the caller supplied
 * (`ContentMD5`, `Checksum*`) is recomputed over the plaintext and compared; the checksum of the
 * caller's `ChecksumAlgorithm` is computed too, so the output can report it.
 */
export class PlaintextChecksums {
  readonly #expectations: readonly Expectation[];
  #result: Promise<ChecksumValues> | undefined;

  private constructor(expectations: readonly Expectation[]) {
    this.#expectations = expectations;
  }

  /** What `input` asks to be checked or reported; a malformed ContentMD5 fails at once, as on S3. */
  static of(input: object): PlaintextChecksums {
    const fields = input as Partial<Record<string, unknown>>;
    const expectations: Expectation[] = [];
    const md5 = fields.ContentMD5;
    if (md5 !== undefined) {
      if (typeof md5 !== 'string' || !BASE64.test(md5) || Buffer.from(md5, 'base64').length !== 16) {
        throw s3Error('InvalidDigest', 'The Content-MD5 you specified is not valid.');
      }
      expectations.push({ field: 'ContentMD5', expected: md5, digest: new Md5() });
    }
    for (const field of CHECKSUM_FIELDS) {
      const value = fields[field];
      if (value === undefined) continue;
      if (typeof value !== 'string') throw new TypeError(`${field} must be a base64 string`);
      expectations.push({ field, expected: value, digest: ALGORITHMS[field].create() });
    }
    const named = `Checksum${String(fields.ChecksumAlgorithm)}`;
    if (isChecksumField(named) && !expectations.some((e) => e.field === named)) {
      expectations.push({ field: named, expected: undefined, digest: ALGORITHMS[named].create() });
    }
    return new PlaintextChecksums(expectations);
  }

  /**
   * The algorithm of the first value the caller supplied that the SDK computes by default: the
   * ciphertext is checksummed in transit with it, as the plaintext would have been.
   */
  suppliedAlgorithm(): ChecksumAlgorithm | undefined {
    const supplied = this.#expectations.find((e) => e.expected !== undefined && (TRANSPORT_FIELDS as readonly string[]).includes(e.field));
    return supplied && supplied.field !== 'ContentMD5' ? ALGORITHMS[supplied.field].algorithm : undefined;
  }

  update(chunk: Uint8Array): void {
    for (const { digest } of this.#expectations) digest.update(chunk);
  }

  /**
   * Compares every digest with the caller's value (once; later calls return the same result).
   * Rejects with S3's `BadDigest` on the first mismatch; resolves to the plaintext checksums.
   */
  verify(): Promise<ChecksumValues> {
    this.#result ??= this.#compare();
    return this.#result;
  }

  /** Passes `source` through, digesting it; when it ends, verifies before returning (so a sealer never sees its end). */
  async *tap(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      this.update(chunk);
      yield chunk;
    }
    await this.verify();
  }

  async #compare(): Promise<ChecksumValues> {
    const values: ChecksumValues = {};
    for (const { field, expected, digest } of this.#expectations) {
      const actual = Buffer.from(await digest.digest()).toString('base64');
      if (expected !== undefined && expected !== actual) throw mismatch(field);
      if (field !== 'ContentMD5') values[field] = actual;
    }
    return values;
  }
}

/**
 * A write's output without the checksums S3 computed over the ciphertext it stored, with the
 * plaintext checksums instead (those the caller supplied, verified, and that of its ChecksumAlgorithm).
 */
export function withPlaintextChecksums<T extends object>(output: T, checksums: ChecksumValues, checksumType?: string): T {
  const view = { ...output } as Record<string, unknown>;
  for (const field of CHECKSUM_FIELDS) delete view[field];
  delete view.ChecksumType;
  const present = Object.keys(checksums).length > 0;
  return { ...view, ...checksums, ...(present && checksumType ? { ChecksumType: checksumType } : {}) } as T;
}

/** The error S3 gives when a CompleteMultipartUpload part does not match the part uploaded. */
export function invalidPart(partNumber: number | undefined): S3ServiceException {
  return s3Error('InvalidPart', `One or more of the specified parts could not be found (part ${partNumber}: its checksum does not match the part uploaded).`);
}
