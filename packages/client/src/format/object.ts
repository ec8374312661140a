// Whole-object operations of format version 1, composed from the envelope, key schedule, segment
// cipher and trailer. A single PUT is stored as data part 1 followed by the trailer; a multipart
// upload as its data parts followed by a trailer part appended on completion.
import { randomBytes } from 'node:crypto';
import { DecryptionError } from '../errors.js';
import type { EncryptedDataKey } from '../keyrings/keyring.js';
import { FORMAT_VERSION, MESSAGE_ID_LENGTH, PART_KIND_DATA, SALT_LENGTH, SUITE_AES256GCM_HKDF_SHA256_COMMIT } from './constants.js';
import type { EnvelopeV1, SuiteParameters } from './envelope.js';
import { commitmentMatches, deriveCommitment, derivePartKey } from './keys.js';
import { checkStoredLength, objectLayout, type ObjectLayout } from './layout.js';
import { encryptedPartLength, sealPart, sealPartStream } from './segments.js';
import { openTrailer, sealTrailer, trailerCount, trailerLength, type TrailerEntry } from './trailer.js';

export function newSuiteParameters(segmentSize: number): SuiteParameters {
  return { version: FORMAT_VERSION, suite: SUITE_AES256GCM_HKDF_SHA256_COMMIT, segmentSize, messageId: randomBytes(MESSAGE_ID_LENGTH) };
}

export function newEnvelope(dataKey: Uint8Array, params: SuiteParameters, encryptedDataKeys: readonly EncryptedDataKey[]): EnvelopeV1 {
  return { ...params, version: FORMAT_VERSION, commitment: deriveCommitment(dataKey, params), encryptedDataKeys };
}

/** Fails unless `dataKey` is the one key this envelope was written with. Checked before any decryption. */
export function checkCommitment(dataKey: Uint8Array, envelope: EnvelopeV1): void {
  if (!commitmentMatches(dataKey, envelope, envelope.commitment)) throw new DecryptionError('ERR_KEY_COMMITMENT_MISMATCH');
}

/** Stored length of a single-PUT object with `length` plaintext bytes. */
export function encryptedObjectLength(length: number, segmentSize: number): number {
  return encryptedPartLength(length, segmentSize) + trailerLength(1);
}

/** A freshly keyed data part: its salt goes into the trailer, its key seals the segments. */
export function newDataPart(dataKey: Uint8Array, params: SuiteParameters, partNumber: number): { salt: Buffer; key: Buffer } {
  const salt = randomBytes(SALT_LENGTH);
  return { salt, key: derivePartKey(dataKey, params, { kind: PART_KIND_DATA, partNumber, salt }) };
}

export function dataPartKey(dataKey: Uint8Array, params: SuiteParameters, entry: TrailerEntry): Buffer {
  return derivePartKey(dataKey, params, { kind: PART_KIND_DATA, partNumber: entry.partNumber, salt: entry.salt });
}

/** Encrypts a whole object held in memory. */
export function sealObject(dataKey: Uint8Array, params: SuiteParameters, plaintext: Uint8Array): Buffer {
  const { salt, key } = newDataPart(dataKey, params, 1);
  try {
    const body = sealPart(key, plaintext, params.segmentSize);
    const trailer = sealTrailer(dataKey, params, [{ partNumber: 1, length: plaintext.length, salt }]);
    return Buffer.concat([body, trailer]);
  } finally {
    key.fill(0);
  }
}

/** Encrypts an object streamed from `source`, which must yield exactly `length` bytes. */
export async function* sealObjectStream(
  dataKey: Uint8Array,
  params: SuiteParameters,
  source: AsyncIterable<Uint8Array>,
  length: number,
  onLengthMismatch: (actual: number) => Error,
): AsyncGenerator<Buffer> {
  const { salt, key } = newDataPart(dataKey, params, 1);
  try {
    yield* sealPartStream(key, source, length, params.segmentSize, onLengthMismatch);
    yield sealTrailer(dataKey, params, [{ partNumber: 1, length, salt }]);
  } finally {
    key.fill(0);
  }
}

/** How many bytes from the end of the object hold the trailer, from the last bytes of the object. */
export function trailerLengthFromTail(tail: Uint8Array): number {
  return trailerLength(trailerCount(tail));
}

/**
 * Authenticates the trailer (the last `trailerLengthFromTail` bytes of the object) and returns the
 * object's layout, checked against the stored length.
 */
export function readLayout(dataKey: Uint8Array, envelope: EnvelopeV1, trailer: Uint8Array, storedLength: number): ObjectLayout {
  const layout = objectLayout(openTrailer(dataKey, envelope, trailer), envelope.segmentSize);
  checkStoredLength(layout, storedLength);
  return layout;
}
