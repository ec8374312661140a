// Whole-object operations, composed from the envelope, key schedule, segment cipher and trailer. A
// single PUT is stored as data part 1 followed by the trailer; a multipart upload as its data parts
// followed by a trailer part appended on completion. New objects are version 2; both are read.
import { randomBytes, type KeyObject } from 'node:crypto';
import { DecryptionError } from '../errors.js';
import type { EncryptedDataKey, EncryptionContext } from '../keyrings/keyring.js';
import {
  CURRENT_FORMAT_VERSION,
  FORMAT_VERSION_2,
  MESSAGE_ID_LENGTH,
  PART_KIND_DATA,
  SALT_LENGTH,
  SUITE_AES256GCM_HKDF_SHA256_COMMIT,
  SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384,
} from './constants.js';
import { envelopeHeader, isSignedSuite, type Envelope, type SuiteParameters } from './envelope.js';
import { checkHeaderTag, commitmentMatches, deriveCommitment, derivePartKey, headerTag, type DataKeyInput } from './keys.js';
import { checkStoredLength, objectLayout, type ObjectLayout } from './layout.js';
import { encryptedPartLength, sealPart, sealPartStream } from './segments.js';
import { openTrailer, sealTrailer, trailerCount, trailerLength, type OpenedTrailer, type TrailerEntry } from './trailer.js';

/** Parameters of a new object: the current version, signed when a signer id is given. */
export function newSuiteParameters(segmentSize: number, signerId?: Uint8Array): SuiteParameters {
  const suite = signerId ? SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384 : SUITE_AES256GCM_HKDF_SHA256_COMMIT;
  return { version: CURRENT_FORMAT_VERSION, suite, segmentSize, messageId: randomBytes(MESSAGE_ID_LENGTH), ...(signerId ? { signerId } : {}) };
}

/**
 * The envelope of an object with these parameters and wrapped keys. For version 2 the header is
 * authenticated for `context` (the object's location and caller context).
 */
export function newEnvelope(dataKey: DataKeyInput, params: SuiteParameters, encryptedDataKeys: readonly EncryptedDataKey[], context: EncryptionContext): Envelope {
  const commitment = deriveCommitment(dataKey, params);
  if (params.version !== FORMAT_VERSION_2) return { ...params, version: 1, commitment, encryptedDataKeys };
  const fields = { ...params, version: FORMAT_VERSION_2, commitment, encryptedDataKeys } as const;
  const header = envelopeHeader(fields);
  return { ...fields, header, headerTag: headerTag(dataKey, params, context, header) };
}

/** The same object's envelope with other wrapped keys, or for another location (copy, re-wrap). */
export function rewrappedEnvelope(dataKey: DataKeyInput, envelope: Envelope, encryptedDataKeys: readonly EncryptedDataKey[], context: EncryptionContext): Envelope {
  const { version, suite, segmentSize, messageId, signerId } = envelope;
  return newEnvelope(dataKey, { version, suite, segmentSize, messageId, ...(signerId ? { signerId } : {}) }, encryptedDataKeys, context);
}

/**
 * Fails unless `dataKey` is the one key this envelope was written with (key commitment), and, for
 * version 2, unless the envelope is exactly what its writer wrote for `context`. Checked before any
 * decryption.
 */
export function checkCommitment(dataKey: DataKeyInput, envelope: Envelope): void {
  if (!commitmentMatches(dataKey, envelope, envelope.commitment)) throw new DecryptionError('ERR_KEY_COMMITMENT_MISMATCH');
}

export function checkHeader(dataKey: DataKeyInput, envelope: Envelope, context: EncryptionContext): void {
  if (envelope.version === FORMAT_VERSION_2) checkHeaderTag(dataKey, envelope, context);
}

/** Stored length of a single-PUT object with `length` plaintext bytes. */
export function encryptedObjectLength(length: number, segmentSize: number, signed: boolean): number {
  return encryptedPartLength(length, segmentSize) + trailerLength(1, signed);
}

/** A freshly keyed data part: its salt goes into the trailer, its key seals the segments. */
export function newDataPart(dataKey: DataKeyInput, params: SuiteParameters, partNumber: number): { salt: Buffer; key: Buffer } {
  const salt = randomBytes(SALT_LENGTH);
  return { salt, key: derivePartKey(dataKey, params, { kind: PART_KIND_DATA, partNumber, salt }) };
}

export function dataPartKey(dataKey: DataKeyInput, params: SuiteParameters, entry: TrailerEntry): Buffer {
  return derivePartKey(dataKey, params, { kind: PART_KIND_DATA, partNumber: entry.partNumber, salt: entry.salt });
}

/** Encrypts a whole object held in memory. */
export function sealObject(dataKey: DataKeyInput, params: SuiteParameters, plaintext: Uint8Array, signingKey?: KeyObject): Buffer {
  const { salt, key } = newDataPart(dataKey, params, 1);
  try {
    const trailer = sealTrailer(dataKey, params, [{ partNumber: 1, length: plaintext.length, salt }], signingKey);
    return sealPart(key, plaintext, params.segmentSize, trailer);
  } finally {
    key.fill(0);
  }
}

/** Encrypts an object streamed from `source`, which must yield exactly `length` bytes. */
export async function* sealObjectStream(
  dataKey: DataKeyInput,
  params: SuiteParameters,
  source: AsyncIterable<Uint8Array>,
  length: number,
  onLengthMismatch: (actual: number) => Error,
  signingKey?: KeyObject,
): AsyncGenerator<Buffer> {
  const { salt, key } = newDataPart(dataKey, params, 1);
  try {
    yield* sealPartStream(key, source, length, params.segmentSize, onLengthMismatch);
    yield sealTrailer(dataKey, params, [{ partNumber: 1, length, salt }], signingKey);
  } finally {
    key.fill(0);
  }
}

/** How many bytes from the end of the object hold the trailer, from the last bytes of the object. */
export function trailerLengthFromTail(tail: Uint8Array, params: SuiteParameters): number {
  return trailerLength(trailerCount(tail), isSignedSuite(params));
}

/** An authenticated trailer and the layout it gives, checked against the stored length. */
export interface ReadableObject {
  readonly layout: ObjectLayout;
  readonly trailer: OpenedTrailer;
}

/**
 * Authenticates the trailer (the last `trailerLengthFromTail` bytes of the object) and returns the
 * object's layout, checked against the stored length.
 */
export function readLayout(dataKey: DataKeyInput, envelope: Envelope, trailerBytes: Uint8Array, storedLength: number): ReadableObject {
  const trailer = openTrailer(dataKey, envelope, trailerBytes);
  const layout = objectLayout(trailer.entries, envelope.segmentSize, isSignedSuite(envelope));
  checkStoredLength(layout, storedLength);
  return { layout, trailer };
}
