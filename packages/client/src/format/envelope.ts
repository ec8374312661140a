// The envelope: everything a reader needs before it touches the body, stored as one base64 value in
// the object's user metadata. Parsing validates structure only; keys are checked later.
import { EnvelopeError, UnsupportedFormatError } from '../errors.js';
import type { EncryptedDataKey } from '../keyrings/keyring.js';
import { ByteReader, ByteWriter } from './bytes.js';
import {
  COMMITMENT_LENGTH,
  ENVELOPE_METADATA_KEY,
  FORMAT_VERSION,
  MAX_SEGMENT_SIZE,
  MESSAGE_ID_LENGTH,
  MIN_SEGMENT_SIZE,
  SUITE_AES256GCM_HKDF_SHA256_COMMIT,
  USER_METADATA_LIMIT,
} from './constants.js';

/** The parameters every key derivation binds. */
export interface SuiteParameters {
  readonly version: number;
  readonly suite: number;
  readonly segmentSize: number;
  readonly messageId: Uint8Array;
}

/** Format version 1 envelope. */
export interface EnvelopeV1 extends SuiteParameters {
  readonly version: 1;
  readonly commitment: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
}

export function serializeEnvelope(envelope: EnvelopeV1): string {
  const writer = new ByteWriter()
    .u8(envelope.version)
    .u8(envelope.suite)
    .u32(envelope.segmentSize)
    .bytes(envelope.messageId)
    .bytes(envelope.commitment)
    .u8(envelope.encryptedDataKeys.length);
  for (const edk of envelope.encryptedDataKeys) {
    const providerId = Buffer.from(edk.providerId, 'ascii');
    const keyId = Buffer.from(edk.keyId, 'utf8');
    writer.u8(providerId.length).bytes(providerId).u16(keyId.length).bytes(keyId).u16(edk.ciphertext.length).bytes(edk.ciphertext);
  }
  return writer.toBuffer().toString('base64');
}

function malformed(detail: string): EnvelopeError {
  return new EnvelopeError('ERR_ENVELOPE_MALFORMED', `s3crypt envelope metadata is malformed: ${detail}`);
}

/** Decodes UTF-8 that must round-trip byte for byte (so no two encodings name the same key). */
function strictText(bytes: Uint8Array, what: string, allowed: RegExp): string {
  const text = Buffer.from(bytes).toString('utf8');
  if (!allowed.test(text) || !Buffer.from(text, 'utf8').equals(bytes)) throw malformed(`invalid ${what}`);
  return text;
}

export function parseEnvelope(value: string): EnvelopeV1 {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw malformed('not base64');
  const reader = new ByteReader(Buffer.from(value, 'base64'));
  try {
    const version = reader.u8();
    if (version !== FORMAT_VERSION) {
      throw new UnsupportedFormatError(`s3crypt format version ${version} is not supported by this release (expected ${FORMAT_VERSION})`);
    }
    const suite = reader.u8();
    if (suite !== SUITE_AES256GCM_HKDF_SHA256_COMMIT) {
      throw new UnsupportedFormatError(`s3crypt suite ${suite} is not supported (expected ${SUITE_AES256GCM_HKDF_SHA256_COMMIT})`);
    }
    const segmentSize = reader.u32();
    if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) throw malformed(`segment size ${segmentSize} out of range`);
    const messageId = reader.take(MESSAGE_ID_LENGTH);
    const commitment = reader.take(COMMITMENT_LENGTH);
    const count = reader.u8();
    if (count === 0) throw malformed('no encrypted data keys');
    const encryptedDataKeys: EncryptedDataKey[] = [];
    for (let i = 0; i < count; i++) {
      const providerId = strictText(reader.take(reader.u8()), 'provider id', /^[\x21-\x7e]+$/);
      // eslint-disable-next-line no-control-regex -- key ids must not contain control characters
      const keyId = strictText(reader.take(reader.u16()), 'key id', /^[^\x00-\x1f]+$/);
      const ciphertext = reader.take(reader.u16());
      encryptedDataKeys.push({ providerId, keyId, ciphertext });
    }
    if (reader.remaining !== 0) throw malformed(`${reader.remaining} unexpected trailing bytes`);
    return { version, suite, segmentSize, messageId, commitment, encryptedDataKeys };
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
export function metadataWithEnvelope(userMetadata: Record<string, string> | undefined, envelope: EnvelopeV1): Record<string, string> {
  const metadata = { ...userMetadata };
  for (const key of Object.keys(metadata)) {
    if (key.toLowerCase() === ENVELOPE_METADATA_KEY) throw new TypeError(`metadata key "${key}" is reserved for s3crypt`);
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
