// Describing a stored object without any key: what its envelope and trailer (or its S3 Encryption
// Client metadata) claim, from one ranged GET of its last bytes. For listings and inspection; nothing
// here is authenticated (verifyObject is), and no keyring is ever called.
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandInput, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { objectName, type SendOptions } from '../client/context.js';
import { storeClientOrSelf } from '../client/internals.js';
import { namingObject } from '../client/object-errors.js';
import { isUnsatisfiable } from '../client/read-object.js';
import { checkEncryptionContext } from '../client/request-options.js';
import { restartingWhenReplaced, rethrowPinned } from '../client/replaced-object.js';
import { discardBody, expectSuffix, readExactly } from '../client/store-response.js';
import { DecryptionError, EnvelopeError } from '../errors.js';
import { FORMAT_VERSION_1, SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384 } from '../format/constants.js';
import { findEnvelope, isSignedSuite, parseEnvelope, type Envelope } from '../format/envelope.js';
import { objectIdentity } from '../format/identity.js';
import { checkStoredLength, objectLayout } from '../format/layout.js';
import { trailerLengthFromTail } from '../format/object.js';
import { checkS3ecStoredLength, parseS3ecMetadata, s3ecPlaintextLength } from '../format/s3ec/metadata.js';
import { readTrailerClaims } from '../format/trailer.js';
import { kekVersionOf } from '../keyrings/kek-version.js';
import { objectEncryptionContext, type EncryptionContext } from '../keyrings/keyring.js';
import { quoteUntrusted } from '../untrusted-text.js';

/**
 * Bytes fetched from the end of an object to describe it: the trailer of any object of up to 290
 * parts (a few hundred bytes for a single PUT). Small on purpose: a listing describes many objects,
 * and reading the whole short answer keeps the connection reusable. Longer trailers take one more GET.
 */
const DESCRIBE_TAIL_LENGTH = 8 * 1024;

/**
 * The object to describe.
 *
 * @example
 * ```ts
 * const input: DescribeObjectInput = { Bucket: 'b', Key: 'reports/2026.csv', VersionId: 'v1' };
 * ```
 */
export interface DescribeObjectInput {
  readonly Bucket: string;
  readonly Key: string;
  /** A specific version; default the current one. */
  readonly VersionId?: string;
}

/**
 * @example
 * ```ts
 * const options: DescribeObjectOptions = { encryptionContext: { tenant: 'acme' }, signal: AbortSignal.timeout(10_000) };
 * ```
 */
export interface DescribeObjectOptions {
  /** Aborts the requests. */
  readonly signal?: AbortSignal;
  /**
   * The caller encryption context the object was written with (format 2), for its object identity.
   * Not checked: a wrong context only yields an identity no reader will see.
   */
  readonly encryptionContext?: EncryptionContext;
}

/**
 * A KEK as an envelope names it, without the wrapped key.
 *
 * @example
 * ```ts
 * const kek: DescribedKek = { providerId: 'vault-transit', keyId: 'transit/app', keyVersion: '3', wrappedKeyLength: 61 };
 * ```
 */
export interface DescribedKek {
  readonly providerId: string;
  readonly keyId: string;
  /** The KEK version, where the provider records one (Vault Transit, GCP KMS, Azure Key Vault, hierarchical keyring). */
  readonly keyVersion?: string;
  /** Bytes of the wrapped data key (never the bytes themselves). */
  readonly wrappedKeyLength: number;
}

/**
 * What every description says about the stored object, whatever its format.
 *
 * @example
 * ```ts
 * const facts: StoredObjectFacts = { bucket: 'b', key: 'k', storedLength: 1084, authenticated: false };
 * ```
 */
export interface StoredObjectFacts {
  readonly bucket: string;
  readonly key: string;
  /** The version described, when the bucket is versioned. */
  readonly versionId?: string;
  readonly etag?: string;
  readonly lastModified?: Date;
  /** Bytes stored (ciphertext and trailer for encrypted objects). */
  readonly storedLength: number;
  /** Always false: a description is what the stored bytes claim; use verifyObject to authenticate. */
  readonly authenticated: false;
}

/**
 * An object with an s3crypt envelope, as its envelope and trailer claim.
 *
 * @example
 * ```ts
 * if (d.format === 's3crypt') console.log(d.formatVersion, d.suite.name, d.plaintextLength, d.keks.map((k) => k.keyId));
 * ```
 */
export interface S3CryptObjectDescription extends StoredObjectFacts {
  readonly format: 's3crypt';
  /** 1 or 2. */
  readonly formatVersion: number;
  readonly suite: { readonly id: number; readonly name: string };
  /** Plaintext bytes per authenticated segment. */
  readonly segmentSize: number;
  /** The trailer carries an ECDSA P-384 signature (suite 2). */
  readonly signed: boolean;
  /** Signed objects: SHA-256 of the signer's public key (DER SPKI), hex. */
  readonly signerId?: string;
  /** The wrapped copies of the data key, in envelope order. */
  readonly keks: readonly DescribedKek[];
  /** Data parts (1 for a single PUT). */
  readonly parts: number;
  readonly plaintextLength: number;
  /**
   * The identity a reader would authenticate (docs/FORMAT.md §9.7), computed from the claimed values
   * and the caller context given: equal to a read's `objectId` only if the object is intact.
   */
  readonly objectId: string;
}

/**
 * An object written by the AWS S3 Encryption Client, recognised from its metadata (not decrypted).
 *
 * @example
 * ```ts
 * if (d.format === 's3ec') console.log(`S3EC v${d.formatVersion ?? '?'}`, d.contentAlgorithm, d.wrapAlgorithm, d.instructionFile);
 * ```
 */
export interface S3ecObjectDescription extends StoredObjectFacts {
  readonly format: 's3ec';
  /** The S3EC content metadata format (1, 2 or 3); absent when all of it is in an instruction file. */
  readonly formatVersion?: 1 | 2 | 3;
  /** `AES/GCM/NoPadding`, `AES/CBC/PKCS5Padding` (legacy, unauthenticated) or `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`. */
  readonly contentAlgorithm?: string;
  /** `kms+context`, `kms`, `AES/GCM`, `AESWrap`, `RSA-OAEP-SHA1`, `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` (V3's codes translated). */
  readonly wrapAlgorithm?: string;
  /** The material description (V2 `kms+context`: the KMS encryption context; V1 KMS: `kms_cmk_id`). */
  readonly materialDescription?: Readonly<Record<string, string>>;
  /** V3 `x-amz-t`: the KMS encryption context. */
  readonly encryptionContext?: Readonly<Record<string, string>>;
  /** The wrapped key is in `<key>.instruction`, which is not fetched. */
  readonly instructionFile: boolean;
  /** Always empty: S3EC metadata does not name its KEK as s3crypt envelopes do (see `materialDescription`). */
  readonly keks: readonly DescribedKek[];
  /** Derived from the stored length for GCM; for CBC, the claimed length when it is consistent; else absent. */
  readonly plaintextLength?: number;
}

/**
 * An object with neither an s3crypt envelope nor S3EC metadata.
 *
 * @example
 * ```ts
 * if (d.format === 'plaintext') console.log(d.plaintextLength, d.s3ecInstructionFile ? '(S3EC instruction file)' : '');
 * ```
 */
export interface PlaintextObjectDescription extends StoredObjectFacts {
  readonly format: 'plaintext';
  readonly keks: readonly DescribedKek[];
  readonly plaintextLength: number;
  /** The object is an S3EC instruction file (`x-amz-crypto-instr-file`) of the object named without `.instruction`. */
  readonly s3ecInstructionFile?: true;
}

/**
 * What {@link describeObject} found, by `format`.
 *
 * @example
 * ```ts
 * const d: ObjectDescription = await describeObject(s3, { Bucket: 'b', Key: 'k' });
 * console.log(d.format, d.plaintextLength ?? 'unknown'); // absent only for some S3EC objects
 * ```
 */
export type ObjectDescription = S3CryptObjectDescription | S3ecObjectDescription | PlaintextObjectDescription;

const SUITE_NAMES: Readonly<Record<number, string>> = {
  1: 'AES256GCM_HKDF_SHA256_COMMIT',
  [SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384]: 'AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384',
};

type Facts = StoredObjectFacts;

function factsOf(bucket: string, key: string, response: { VersionId?: string; ETag?: string; LastModified?: Date }, storedLength: number): Facts {
  return {
    bucket,
    key,
    ...(response.VersionId !== undefined ? { versionId: response.VersionId } : {}),
    ...(response.ETag !== undefined ? { etag: response.ETag } : {}),
    ...(response.LastModified !== undefined ? { lastModified: response.LastModified } : {}),
    storedLength,
    authenticated: false,
  };
}

/** The trailer bytes: from the tail, or (a trailer longer than the tail) one more GET of the same version. */
async function trailerBytes(store: S3Client, pinned: GetObjectCommandInput, tail: Buffer, length: number, total: number, options: SendOptions, name: string): Promise<Buffer> {
  if (length > total) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  if (length <= tail.length) return tail.subarray(tail.length - length);
  const response = await store.send(new GetObjectCommand({ ...pinned, Range: `bytes=-${length}` }), options).catch(rethrowPinned);
  const expected = expectSuffix(response, length, name);
  if (expected.total !== total) {
    discardBody(response);
    throw new DecryptionError('ERR_OBJECT_MALFORMED', `the store reported two different lengths for ${name}`);
  }
  return readExactly(response, expected.length, name);
}

function describedKeks(envelope: Envelope): DescribedKek[] {
  return envelope.encryptedDataKeys.map((edk) => {
    const keyVersion = kekVersionOf(edk);
    return { providerId: edk.providerId, keyId: edk.keyId, ...(keyVersion !== undefined ? { keyVersion } : {}), wrappedKeyLength: edk.ciphertext.length };
  });
}

async function describeS3Crypt(
  store: S3Client,
  facts: Facts,
  envelopeValue: string,
  tail: Buffer,
  pinned: GetObjectCommandInput,
  callerContext: EncryptionContext,
  options: SendOptions,
): Promise<S3CryptObjectDescription> {
  const name = objectName(facts.bucket, facts.key);
  const envelope = parseEnvelope(envelopeValue);
  const total = facts.storedLength;
  const trailer = await trailerBytes(store, pinned, tail, trailerLengthFromTail(tail, envelope), total, options, name);
  const { entries, tag } = readTrailerClaims(envelope, trailer);
  const signed = isSignedSuite(envelope);
  const layout = objectLayout(entries, envelope.segmentSize, signed);
  checkStoredLength(layout, total);
  // Format 1 cannot bind a caller context: its readers use none (docs/FORMAT.md §9.7).
  const context = objectEncryptionContext(facts.bucket, facts.key, envelope.version, envelope.version === FORMAT_VERSION_1 ? {} : callerContext);
  return {
    ...facts,
    format: 's3crypt',
    formatVersion: envelope.version,
    suite: { id: envelope.suite, name: SUITE_NAMES[envelope.suite] ?? `suite ${envelope.suite}` },
    segmentSize: envelope.segmentSize,
    signed,
    ...(signed && envelope.signerId ? { signerId: Buffer.from(envelope.signerId).toString('hex') } : {}),
    keks: describedKeks(envelope),
    parts: entries.length,
    plaintextLength: layout.plaintextLength,
    objectId: objectIdentity(envelope, tag, context),
  };
}

/** An object without an s3crypt envelope: S3EC, an S3EC instruction file, or plaintext. */
function describeUnenveloped(facts: Facts, metadata: Readonly<Record<string, string>> | undefined): S3ecObjectDescription | PlaintextObjectDescription {
  // As on reads: s3crypt metadata without an envelope is an envelope stored under another name.
  const stray = Object.keys(metadata ?? {}).find((key) => key.toLowerCase().startsWith('s3crypt'));
  if (stray !== undefined) throw new EnvelopeError('ERR_ENVELOPE_MALFORMED', `${objectName(facts.bucket, facts.key)} has no s3crypt envelope but carries s3crypt metadata ${quoteUntrusted(stray)}`);
  const s3ec = parseS3ecMetadata(metadata);
  if (s3ec === undefined || s3ec.kind === 'instruction-file') {
    return { ...facts, format: 'plaintext', keks: [], plaintextLength: facts.storedLength, ...(s3ec ? { s3ecInstructionFile: true as const } : {}) };
  }
  checkS3ecStoredLength(s3ec, facts.storedLength);
  const plaintextLength = s3ecPlaintextLength(s3ec, facts.storedLength);
  const { formatVersion, contentAlgorithm, wrapAlgorithm, materialDescription, encryptionContext } = s3ec;
  return {
    ...facts,
    format: 's3ec',
    ...(formatVersion !== undefined ? { formatVersion } : {}),
    ...(contentAlgorithm !== undefined ? { contentAlgorithm } : {}),
    ...(wrapAlgorithm !== undefined ? { wrapAlgorithm } : {}),
    ...(materialDescription !== undefined ? { materialDescription } : {}),
    ...(encryptionContext !== undefined ? { encryptionContext } : {}),
    instructionFile: s3ec.instructionFile,
    keks: [],
    ...(plaintextLength !== undefined ? { plaintextLength } : {}),
  };
}

function storedLengthOf(value: number | undefined): number {
  if (value === undefined || !Number.isSafeInteger(value) || value < 0) throw new DecryptionError('ERR_OBJECT_MALFORMED', 'the store reported no valid length for the object');
  return value;
}

async function describeOnce(store: S3Client, input: DescribeObjectInput, callerContext: EncryptionContext, options: SendOptions): Promise<ObjectDescription> {
  const { Bucket: bucket, Key: key } = input;
  const selector: GetObjectCommandInput = { Bucket: bucket, Key: key, ...(input.VersionId !== undefined ? { VersionId: input.VersionId } : {}) };
  const name = objectName(bucket, key);
  let response: GetObjectCommandOutput;
  try {
    response = await store.send(new GetObjectCommand({ ...selector, Range: `bytes=-${DESCRIBE_TAIL_LENGTH}` }), options);
  } catch (error) {
    if (!isUnsatisfiable(error)) throw error;
    // An empty object: only its metadata is left to describe.
    const head = await store.send(new HeadObjectCommand(selector), options);
    const facts = factsOf(bucket, key, head, storedLengthOf(head.ContentLength));
    if (findEnvelope(head.Metadata) !== undefined) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
    return describeUnenveloped(facts, head.Metadata);
  }
  const expected = expectSuffix(response, DESCRIBE_TAIL_LENGTH, name);
  const tail = await readExactly(response, expected.length, name);
  const facts = factsOf(bucket, key, response, expected.total);
  const envelopeValue = findEnvelope(response.Metadata);
  if (envelopeValue === undefined) return describeUnenveloped(facts, response.Metadata);
  const pinned = { ...selector, ...(input.VersionId === undefined && response.ETag !== undefined ? { IfMatch: response.ETag } : {}) };
  return describeS3Crypt(store, facts, envelopeValue, tail, pinned, callerContext, options);
}

/**
 * Describes a stored object without any key (no keyring is called): its format (`s3crypt`, `s3ec` for
 * the AWS S3 Encryption Client, or `plaintext`), and what its envelope and trailer, or its S3EC
 * metadata, claim: format version, suite, KEKs (provider, id, version; never wrapped key bytes),
 * parts, plaintext length, object identity. One ranged GET of the object's last bytes (a HEAD for an
 * empty object). Nothing is authenticated (`authenticated: false`): a hostile store can make a
 * description say anything that parses; {@link verifyObject} authenticates. Malformed envelopes or
 * trailers fail with the typed error a read would give (`ERR_ENVELOPE_MALFORMED`,
 * `ERR_OBJECT_TRUNCATED`, `ERR_OBJECT_MALFORMED`, …) naming the object; a missing object fails with
 * the store's own error (`NoSuchKey`, `NoSuchVersion`). S3EC instruction files are not fetched.
 *
 * `client`: an `EncryptingS3Client` (its store client is used) or a plain `S3Client`.
 *
 * @example
 * ```ts
 * const d = await describeObject(s3, { Bucket: 'b', Key: 'reports/2026.csv' });
 * if (d.format === 's3crypt') console.log(d.plaintextLength, d.keks.map((k) => `${k.providerId}:${k.keyId}`));
 * ```
 */
export async function describeObject(client: S3Client, input: DescribeObjectInput, options: DescribeObjectOptions = {}): Promise<ObjectDescription> {
  const store = storeClientOrSelf(client, 'describeObject');
  if (typeof input?.Bucket !== 'string' || input.Bucket === '' || typeof input.Key !== 'string' || input.Key === '') {
    throw new TypeError('describeObject: input must be { Bucket, Key, VersionId? } with non-empty strings');
  }
  if (input.VersionId !== undefined && (typeof input.VersionId !== 'string' || input.VersionId === '')) throw new TypeError('describeObject: VersionId must be a non-empty string');
  checkEncryptionContext(options.encryptionContext, 'encryptionContext', 'describeObject');
  const sendOptions: SendOptions = options.signal ? { abortSignal: options.signal } : undefined;
  try {
    return await restartingWhenReplaced(() => describeOnce(store, input, options.encryptionContext ?? {}, sendOptions));
  } catch (error) {
    throw namingObject(error, { bucket: input.Bucket, key: input.Key, ...(input.VersionId !== undefined ? { versionId: input.VersionId } : {}) });
  }
}
