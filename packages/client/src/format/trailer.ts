// The trailer: the last bytes of every object. It lists each data part (S3 part number, plaintext
// length, key salt) in order and is authenticated under the object's data key, so a reader knows the
// exact layout before it releases any plaintext, and detects dropped, reordered or swapped parts.
//
// Layout: salt(16) ‖ entries(28 × n) ‖ tag(16) ‖ n(u32). Tag = AES-256-GCM over empty plaintext with
// AAD = entries ‖ n, under the part key of kind TRAILER, part number 0, with this salt.
import { createCipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import { DecryptionError } from '../errors.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { MAX_DATA_PART_NUMBER, MAX_PART_LENGTH, PART_KIND_TRAILER, SALT_LENGTH, TAG_LENGTH } from './constants.js';
import type { SuiteParameters } from './envelope.js';
import { derivePartKey } from './keys.js';
import { segmentNonce } from './segments.js';

export interface TrailerEntry {
  readonly partNumber: number;
  readonly length: number;
  readonly salt: Uint8Array;
}

const ENTRY_LENGTH = 4 + 8 + SALT_LENGTH;
const COUNT_LENGTH = 4;

export function trailerLength(count: number): number {
  return SALT_LENGTH + ENTRY_LENGTH * count + TAG_LENGTH + COUNT_LENGTH;
}

/** Smallest possible trailer (an object with no data parts). */
export const MIN_TRAILER_LENGTH = trailerLength(0);

function entriesAad(entries: readonly TrailerEntry[]): Buffer {
  const writer = new ByteWriter();
  for (const entry of entries) writer.u32(entry.partNumber).u64(entry.length).bytes(entry.salt);
  return writer.u32(entries.length).toBuffer();
}

/** GCM tag over an empty message with the entries as AAD (a GMAC), under the trailer's own key. */
function trailerTag(dataKey: Uint8Array, params: SuiteParameters, salt: Uint8Array, aad: Buffer): Buffer {
  const key = derivePartKey(dataKey, params, { kind: PART_KIND_TRAILER, partNumber: 0, salt });
  try {
    const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(0, true));
    cipher.setAAD(aad);
    cipher.final();
    return cipher.getAuthTag();
  } finally {
    key.fill(0);
  }
}

export function sealTrailer(dataKey: Uint8Array, params: SuiteParameters, entries: readonly TrailerEntry[]): Buffer {
  const salt = randomBytes(SALT_LENGTH);
  const aad = entriesAad(entries);
  const tag = trailerTag(dataKey, params, salt, aad);
  return Buffer.concat([salt, aad.subarray(0, aad.length - COUNT_LENGTH), tag, aad.subarray(aad.length - COUNT_LENGTH)]);
}

/** How many entries the trailer ending `tail` announces (not yet authenticated). */
export function trailerCount(tail: Uint8Array): number {
  if (tail.length < MIN_TRAILER_LENGTH) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  const count = Buffer.from(tail.subarray(tail.length - COUNT_LENGTH)).readUInt32BE(0);
  if (count > MAX_DATA_PART_NUMBER) throw new DecryptionError('ERR_OBJECT_MALFORMED');
  return count;
}

/** Authenticates and parses a trailer (exactly `trailerLength(count)` bytes). */
export function openTrailer(dataKey: Uint8Array, params: SuiteParameters, trailer: Uint8Array): TrailerEntry[] {
  const count = trailerCount(trailer);
  if (trailer.length !== trailerLength(count)) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  const salt = trailer.subarray(0, SALT_LENGTH);
  const entryBytes = trailer.subarray(SALT_LENGTH, SALT_LENGTH + ENTRY_LENGTH * count);
  const tag = trailer.subarray(SALT_LENGTH + ENTRY_LENGTH * count, trailer.length - COUNT_LENGTH);
  const aad = Buffer.concat([entryBytes, trailer.subarray(trailer.length - COUNT_LENGTH)]);
  const expected = trailerTag(dataKey, params, salt, aad);
  if (!timingSafeEqual(expected, tag)) throw new DecryptionError('ERR_DECRYPTION_FAILED');
  const reader = new ByteReader(entryBytes);
  const entries: TrailerEntry[] = [];
  let previous = 0;
  for (let i = 0; i < count; i++) {
    const partNumber = reader.u32();
    const length = reader.u64();
    const entrySalt = reader.take(SALT_LENGTH);
    if (partNumber <= previous || partNumber > MAX_DATA_PART_NUMBER || length > MAX_PART_LENGTH) {
      throw new DecryptionError('ERR_OBJECT_MALFORMED');
    }
    previous = partNumber;
    entries.push({ partNumber, length, salt: entrySalt });
  }
  return entries;
}
