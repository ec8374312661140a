// The envelope: everything a reader needs before it touches the body, stored as one base64 value in
// the object's user metadata. Parsing validates structure only; keys, the v2 header tag and the
// signature are checked later, once a data key is known (docs/FORMAT.md §2, §9.3).
import { EnvelopeError, UnsupportedFormatError } from '../errors.js';
import type { EncryptedDataKey } from '../keyrings/keyring.js';
import { ByteReader, ByteWriter } from './bytes.js';
import {
  COMMITMENT_LENGTH,
  ENVELOPE_METADATA_KEY,
  FORMAT_VERSION_1,
  FORMAT_VERSION_2,
  HEADER_TAG_LENGTH,
  MAX_SEGMENT_SIZE,
  MESSAGE_ID_LENGTH,
  MIN_SEGMENT_SIZE,
  SIGNER_ID_LENGTH,
  SUITE_AES256GCM_HKDF_SHA256_COMMIT,
  SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384,
  USER_METADATA_LIMIT,
} from './constants.js';

/** The parameters every key derivation binds. */
export interface SuiteParameters {
  readonly version: number;
  readonly suite: number;
  readonly segmentSize: number;
  readonly messageId: Uint8Array;
  /** v2 suite 2: SHA-256 of the signer's public key (DER SPKI). */
  readonly signerId?: Uint8Array;
}

/** Format version 1 envelope. */
export interface EnvelopeV1 extends SuiteParameters {
  readonly version: 1;
  readonly commitment: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
}

/** Format version 2 envelope: v1's fields, an optional signer id, and a tag over the header bytes. */
export interface EnvelopeV2 extends SuiteParameters {
  readonly version: 2;
  readonly commitment: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  /** Every envelope byte before the tag: what the tag authenticates. */
  readonly header: Uint8Array;
  readonly headerTag: Uint8Array;
}

export type Envelope = EnvelopeV1 | EnvelopeV2;

/** True for suites whose trailer carries a signature. */
export function isSignedSuite(params: SuiteParameters): boolean {
  return params.version === FORMAT_VERSION_2 && params.suite === SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384;
}

/** Key ids must not carry characters that can forge or hide text in logs and terminals. */
const FORBIDDEN_KEY_ID_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const PROVIDER_ID = /^[\x21-\x7e]+$/;

/** Whether a writer may record this EDK (the same rules a reader enforces). */
export function checkEncryptedDataKeyNames(edk: EncryptedDataKey): void {
  const providerBytes = Buffer.byteLength(edk.providerId, 'utf8');
  const keyIdBytes = Buffer.byteLength(edk.keyId, 'utf8');
  if (!PROVIDER_ID.test(edk.providerId) || providerBytes > 255) throw new TypeError('encrypted data key: providerId must be 1-255 printable ASCII characters');
  if (keyIdBytes === 0 || keyIdBytes > 0xffff || FORBIDDEN_KEY_ID_CHARACTERS.test(edk.keyId)) {
    throw new TypeError('encrypted data key: keyId must be 1-65535 bytes of UTF-8 without control, format or separator characters');
  }
  if (edk.ciphertext.length > 0xffff) throw new TypeError('encrypted data key: ciphertext must be at most 65535 bytes');
}

/** The header bytes of an envelope (v2: everything the header tag covers; v1: the whole envelope). */
export function envelopeHeader(envelope: Omit<EnvelopeV1, 'version'> & { version: number }): Buffer {
  const writer = new ByteWriter().u8(envelope.version).u8(envelope.suite).u32(envelope.segmentSize).bytes(envelope.messageId).bytes(envelope.commitment);
  if (isSignedSuite(envelope)) writer.bytes(envelope.signerId ?? new Uint8Array(0));
  writer.u8(envelope.encryptedDataKeys.length);
  for (const edk of envelope.encryptedDataKeys) {
    checkEncryptedDataKeyNames(edk);
    const providerId = Buffer.from(edk.providerId, 'ascii');
    const keyId = Buffer.from(edk.keyId, 'utf8');
    writer.u8(providerId.length).bytes(providerId).u16(keyId.length).bytes(keyId).u16(edk.ciphertext.length).bytes(edk.ciphertext);
  }
  return writer.toBuffer();
}

export function serializeEnvelope(envelope: Envelope): string {
  const bytes = envelope.version === FORMAT_VERSION_2 ? Buffer.concat([envelope.header, envelope.headerTag]) : envelopeHeader(envelope);
  return bytes.toString('base64');
}

function malformed(detail: string): EnvelopeError {
  return new EnvelopeError('ERR_ENVELOPE_MALFORMED', `s3crypt envelope metadata is malformed: ${detail}`);
}

/** Decodes UTF-8 that must round-trip byte for byte (so no two encodings name the same key). */
function strictText(bytes: Uint8Array, what: string, valid: (text: string) => boolean): string {
  const text = Buffer.from(bytes).toString('utf8');
  if (!valid(text) || !Buffer.from(text, 'utf8').equals(bytes)) throw malformed(`invalid ${what}`);
  return text;
}

/** Canonical, padded standard base64 only: exactly one string encodes a given envelope. */
function decodeCanonicalBase64(value: string): Buffer {
  if (value.length === 0 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw malformed('not canonical padded base64');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) throw malformed('not canonical padded base64');
  return bytes;
}

function readEncryptedDataKeys(reader: ByteReader): EncryptedDataKey[] {
  const count = reader.u8();
  if (count === 0) throw malformed('no encrypted data keys');
  const encryptedDataKeys: EncryptedDataKey[] = [];
  for (let i = 0; i < count; i++) {
    const providerId = strictText(reader.take(reader.u8()), 'provider id', (text) => PROVIDER_ID.test(text));
    const keyId = strictText(reader.take(reader.u16()), 'key id', (text) => text.length > 0 && !FORBIDDEN_KEY_ID_CHARACTERS.test(text));
    const ciphertext = reader.take(reader.u16());
    encryptedDataKeys.push({ providerId, keyId, ciphertext });
  }
  return encryptedDataKeys;
}

function readSuite(reader: ByteReader, version: number): number {
  const suite = reader.u8();
  const known = version === FORMAT_VERSION_1 ? [SUITE_AES256GCM_HKDF_SHA256_COMMIT] : [SUITE_AES256GCM_HKDF_SHA256_COMMIT, SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384];
  if (!known.includes(suite)) throw new UnsupportedFormatError(`s3crypt format version ${version} suite ${suite} is not supported by this release`);
  return suite;
}

export function parseEnvelope(value: string): Envelope {
  const bytes = decodeCanonicalBase64(value);
  const reader = new ByteReader(bytes);
  try {
    const version = reader.u8();
    if (version !== FORMAT_VERSION_1 && version !== FORMAT_VERSION_2) {
      throw new UnsupportedFormatError(`s3crypt format version ${version} is not supported by this release (it reads versions 1 and 2)`);
    }
    const suite = readSuite(reader, version);
    const segmentSize = reader.u32();
    if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) throw malformed(`segment size ${segmentSize} out of range`);
    const messageId = reader.take(MESSAGE_ID_LENGTH);
    const commitment = reader.take(COMMITMENT_LENGTH);
    if (version === FORMAT_VERSION_1) {
      const encryptedDataKeys = readEncryptedDataKeys(reader);
      if (reader.remaining !== 0) throw malformed(`${reader.remaining} unexpected trailing bytes`);
      return { version, suite, segmentSize, messageId, commitment, encryptedDataKeys };
    }
    const signerId = suite === SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384 ? reader.take(SIGNER_ID_LENGTH) : undefined;
    const encryptedDataKeys = readEncryptedDataKeys(reader);
    if (reader.remaining !== HEADER_TAG_LENGTH) throw malformed(reader.remaining < HEADER_TAG_LENGTH ? 'truncated' : `${reader.remaining - HEADER_TAG_LENGTH} unexpected trailing bytes`);
    const header = bytes.subarray(0, bytes.length - HEADER_TAG_LENGTH);
    const headerTag = reader.take(HEADER_TAG_LENGTH);
    return { version, suite, segmentSize, messageId, commitment, ...(signerId ? { signerId } : {}), encryptedDataKeys, header, headerTag };
  } catch (error) {
    if (error instanceof RangeError) throw malformed('truncated');
    throw error;
  }
}

/** Size S3 charges against the 2 KiB user-metadata limit. */
export function userMetadataSize(metadata: Readonly<Record<string, string>>): number {
  let size = 0;
  for (const [key, value] of Object.entries(metadata)) size += 'x-amz-meta-'.length + key.length + Buffer.byteLength(value);
  return size;
}

/** Adds the envelope to the caller's metadata, refusing clashes and oversize results before anything is sent. */
export function metadataWithEnvelope(userMetadata: Record<string, string> | undefined, envelope: Envelope): Record<string, string> {
  const metadata = { ...userMetadata };
  for (const key of Object.keys(metadata)) {
    if (key.toLowerCase().startsWith('s3crypt')) throw new TypeError(`metadata key "${key}" is reserved for s3crypt (keys starting with "s3crypt")`);
  }
  metadata[ENVELOPE_METADATA_KEY] = serializeEnvelope(envelope);
  const size = userMetadataSize(metadata);
  if (size > USER_METADATA_LIMIT) {
    throw new EnvelopeError(
      'ERR_ENVELOPE_TOO_LARGE',
      `user metadata with the s3crypt envelope is ${size} bytes; S3 allows ${USER_METADATA_LIMIT} (use fewer or smaller wrapped keys, or less metadata)`,
    );
  }
  return metadata;
}

/** The envelope value in a response's metadata (S3 returns keys lower-cased), if any. */
export function findEnvelope(metadata: Readonly<Record<string, string>> | undefined): string | undefined {
  if (!metadata) return undefined;
  for (const [key, value] of Object.entries(metadata)) {
    if (key.toLowerCase() === ENVELOPE_METADATA_KEY) return value;
  }
  return undefined;
}

/** The caller's metadata with the envelope removed, as a decrypting client returns it. */
export function withoutEnvelope(metadata: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!metadata) return metadata;
  return Object.fromEntries(Object.entries(metadata).filter(([key]) => key.toLowerCase() !== ENVELOPE_METADATA_KEY));
}
