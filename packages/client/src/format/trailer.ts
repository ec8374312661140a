// The trailer: the last bytes of every object. It lists each data part (S3 part number, plaintext
// length, key salt) in order and is authenticated under the object's data key, so a reader knows the
// exact layout before it releases any plaintext, and detects dropped, reordered or swapped parts.
//
// Layout: salt(16) ‖ entries(28 × n) ‖ tag(16) ‖ [signature(96), signed suite] ‖ n(u32). Tag = AES-256-GCM
// over empty plaintext with AAD = entries ‖ n, under the part key of kind TRAILER, part number 0, with this salt.
import { createCipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import { DecryptionError } from '../errors.js';
import { secretKey } from '../secret-key.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { MAX_DATA_PART_NUMBER, MAX_PART_LENGTH, PART_KIND_TRAILER, SALT_LENGTH, SIGNATURE_LENGTH, TAG_LENGTH } from './constants.js';
import { isSignedSuite, type SuiteParameters } from './envelope.js';
import { deriveCommitment, derivePartKey, parameterBytes, type DataKeyInput } from './keys.js';
import { segmentNonce } from './segments.js';
import { signedMessage, signMessage } from './signature.js';
import type { KeyObject } from 'node:crypto';

export interface TrailerEntry {
  readonly partNumber: number;
  readonly length: number;
  readonly salt: Uint8Array;
}

/** An authenticated trailer. */
export interface OpenedTrailer {
  readonly entries: TrailerEntry[];
  /** The trailer's tag: it pins every entry, hence the object's content (part of the object identity). */
  readonly tag: Uint8Array;
  /** Signed suite: what was signed, and the signature, still to be verified against a pinned key. */
  readonly signature?: { readonly message: Buffer; readonly value: Uint8Array };
}

const ENTRY_LENGTH = 4 + 8 + SALT_LENGTH;
const COUNT_LENGTH = 4;

export function trailerLength(count: number, signed = false): number {
  return SALT_LENGTH + ENTRY_LENGTH * count + TAG_LENGTH + (signed ? SIGNATURE_LENGTH : 0) + COUNT_LENGTH;
}

/** Smallest possible trailer (an object with no data parts). */
export const MIN_TRAILER_LENGTH = trailerLength(0);

function entriesAad(entries: readonly TrailerEntry[]): Buffer {
  const writer = new ByteWriter();
  for (const entry of entries) writer.u32(entry.partNumber).u64(entry.length).bytes(entry.salt);
  return writer.u32(entries.length).toBuffer();
}

/** GCM tag over an empty message with the entries as AAD (a GMAC), under the trailer's own key. */
function trailerTag(dataKey: DataKeyInput, params: SuiteParameters, salt: Uint8Array, aad: Buffer): Buffer {
  const key = derivePartKey(dataKey, params, { kind: PART_KIND_TRAILER, partNumber: 0, salt });
  try {
    const cipher = createCipheriv('aes-256-gcm', secretKey(key), segmentNonce(0, true));
    cipher.setAAD(aad);
    cipher.final();
    return cipher.getAuthTag();
  } finally {
    key.fill(0);
  }
}

/** docs/FORMAT.md §9.6: the header fields that fix the content, then the trailer. */
function signatureMessage(dataKey: DataKeyInput, params: SuiteParameters, salt: Uint8Array, aad: Uint8Array, tag: Uint8Array): Buffer {
  const commitment = deriveCommitment(dataKey, params);
  return signedMessage([parameterBytes(params), params.messageId, commitment, params.signerId ?? new Uint8Array(0), salt, aad, tag]);
}

/** Seals a trailer; the signed suite needs `signingKey`. */
export function sealTrailer(dataKey: DataKeyInput, params: SuiteParameters, entries: readonly TrailerEntry[], signingKey?: KeyObject): Buffer {
  const salt = randomBytes(SALT_LENGTH);
  const aad = entriesAad(entries);
  const tag = trailerTag(dataKey, params, salt, aad);
  const pieces = [salt, aad.subarray(0, aad.length - COUNT_LENGTH), tag];
  if (isSignedSuite(params)) {
    if (!signingKey) throw new TypeError('the signed suite needs a signing key');
    pieces.push(signMessage(signingKey, signatureMessage(dataKey, params, salt, aad, tag)));
  }
  pieces.push(aad.subarray(aad.length - COUNT_LENGTH));
  return Buffer.concat(pieces);
}

/** How many entries the trailer ending `tail` announces (not yet authenticated). */
export function trailerCount(tail: Uint8Array): number {
  if (tail.length < MIN_TRAILER_LENGTH) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  const count = Buffer.from(tail.subarray(tail.length - COUNT_LENGTH)).readUInt32BE(0);
  if (count > MAX_DATA_PART_NUMBER) throw new DecryptionError('ERR_OBJECT_MALFORMED');
  return count;
}

/** The tag of a trailer this process sealed (for the writer's object identity). */
export function trailerTagOf(trailer: Uint8Array): Uint8Array {
  const start = SALT_LENGTH + ENTRY_LENGTH * trailerCount(trailer);
  return trailer.subarray(start, start + TAG_LENGTH);
}

/** Authenticates and parses a trailer (exactly `trailerLength(count, signed)` bytes). */
export function openTrailer(dataKey: DataKeyInput, params: SuiteParameters, trailer: Uint8Array): OpenedTrailer {
  const signed = isSignedSuite(params);
  const count = trailerCount(trailer);
  if (trailer.length !== trailerLength(count, signed)) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  const salt = trailer.subarray(0, SALT_LENGTH);
  const entryBytes = trailer.subarray(SALT_LENGTH, SALT_LENGTH + ENTRY_LENGTH * count);
  const tagStart = SALT_LENGTH + ENTRY_LENGTH * count;
  const tag = trailer.subarray(tagStart, tagStart + TAG_LENGTH);
  const aad = Buffer.concat([entryBytes, trailer.subarray(trailer.length - COUNT_LENGTH)]);
  const expected = trailerTag(dataKey, params, salt, aad);
  if (!timingSafeEqual(expected, tag)) throw new DecryptionError('ERR_DECRYPTION_FAILED');
  const entries = parseEntries(entryBytes, count);
  if (!signed) return { entries, tag };
  const value = trailer.subarray(tagStart + TAG_LENGTH, tagStart + TAG_LENGTH + SIGNATURE_LENGTH);
  return { entries, tag, signature: { message: signatureMessage(dataKey, params, salt, aad, tag), value } };
}

/**
 * What a trailer claims, NOT authenticated (no data key is involved): its entries and tag, from
 * exactly `trailerLength(count, signed)` bytes, with the same structural checks as
 * {@link openTrailer}. For describing an object without its keys; never for reading it.
 */
export function readTrailerClaims(params: SuiteParameters, trailer: Uint8Array): { entries: TrailerEntry[]; tag: Uint8Array } {
  const count = trailerCount(trailer);
  if (trailer.length !== trailerLength(count, isSignedSuite(params))) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  const tagStart = SALT_LENGTH + ENTRY_LENGTH * count;
  return { entries: parseEntries(trailer.subarray(SALT_LENGTH, tagStart), count), tag: trailer.subarray(tagStart, tagStart + TAG_LENGTH) };
}

function parseEntries(entryBytes: Uint8Array, count: number): TrailerEntry[] {
  const reader = new ByteReader(entryBytes);
  const entries: TrailerEntry[] = [];
  let previous = 0;
  try {
    for (let i = 0; i < count; i++) {
      const partNumber = reader.u32();
      const length = reader.u64();
      const salt = reader.take(SALT_LENGTH);
      if (partNumber <= previous || partNumber > MAX_DATA_PART_NUMBER || length > MAX_PART_LENGTH) throw new RangeError('impossible entry');
      previous = partNumber;
      entries.push({ partNumber, length, salt });
    }
  } catch (error) {
    // Authenticated yet impossible (a length beyond 2^53, parts out of order): never an untyped error.
    if (error instanceof RangeError) throw new DecryptionError('ERR_OBJECT_MALFORMED');
    throw error;
  }
  return entries;
}
