// Segment cipher of format version 1: a part's plaintext is cut into fixed-size segments, each sealed
// with AES-256-GCM under the part key. The nonce is the segment index plus a flag marking the part's
// last segment, so reordering, dropping or truncating segments makes a tag fail.
import { createCipheriv, type KeyObject } from 'node:crypto';
import { secretKey } from '../secret-key.js';
import { NONCE_LENGTH, TAG_LENGTH } from './constants.js';

/** Number of segments a part of `length` plaintext bytes has: at least one, so empty parts are sealed too. */
export function segmentCount(length: number, segmentSize: number): number {
  return Math.max(1, Math.ceil(length / segmentSize));
}

/** Stored size of a part of `length` plaintext bytes. */
export function encryptedPartLength(length: number, segmentSize: number): number {
  return length + TAG_LENGTH * segmentCount(length, segmentSize);
}

export function segmentNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_LENGTH);
  nonce.writeUInt32BE(index, 7);
  nonce.writeUInt8(final ? 1 : 0, 11);
  return nonce;
}

/** Seals one segment, returned as its ciphertext and its 16-byte tag (stored one after the other). */
export function sealSegment(key: Uint8Array | KeyObject, index: number, final: boolean, plaintext: Uint8Array): [Buffer, Buffer] {
  const cipher = createCipheriv('aes-256-gcm', secretKey(key), segmentNonce(index, final));
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  return [ciphertext, cipher.getAuthTag()];
}

/**
 * Encrypts a whole part held in memory, followed by `suffix` (a single PUT's trailer) in the same
 * buffer, so the object is copied once, not once more to append the trailer. `into`, when given,
 * is that buffer (exactly the sealed length), reused instead of a new allocation.
 */
export function sealPart(key: Uint8Array | KeyObject, plaintext: Uint8Array, segmentSize: number, suffix?: Uint8Array, into?: Buffer): Buffer {
  const keyObject = secretKey(key);
  const count = segmentCount(plaintext.length, segmentSize);
  const total = encryptedPartLength(plaintext.length, segmentSize) + (suffix?.length ?? 0);
  if (into && into.length !== total) throw new RangeError('sealPart: the target buffer is not the sealed length');
  const sealed = into ?? Buffer.allocUnsafe(total);
  let offset = 0;
  for (let index = 0; index < count; index++) {
    for (const piece of sealSegment(keyObject, index, index === count - 1, plaintext.subarray(index * segmentSize, (index + 1) * segmentSize))) {
      sealed.set(piece, offset);
      offset += piece.length;
    }
  }
  if (suffix) sealed.set(suffix, offset);
  return sealed;
}

/**
 * Encrypts a part that arrives as a stream of known total length. Each source chunk goes through
 * GCM as it comes (no copy into a segment buffer), so memory stays at one source chunk whatever the
 * part or segment size. Yields more or fewer bytes than `length` → throws, before any byte beyond
 * `length` is encrypted.
 */
export async function* sealPartStream(
  key: Uint8Array | KeyObject,
  source: AsyncIterable<Uint8Array>,
  length: number,
  segmentSize: number,
  onLengthMismatch: (actual: number) => Error,
): AsyncGenerator<Buffer> {
  const keyObject = secretKey(key);
  const count = segmentCount(length, segmentSize);
  // The length is known, so each segment's cipher is created knowing whether it is the last one.
  const cipherFor = (index: number) => createCipheriv('aes-256-gcm', keyObject, segmentNonce(index, index === count - 1));
  let index = 0;
  let cipher = cipherFor(0);
  let filled = 0;
  let seen = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    seen += bytes.length;
    if (seen > length) throw onLengthMismatch(seen);
    for (let offset = 0; offset < bytes.length; ) {
      if (filled === segmentSize) {
        // Full, and not the last segment (the last one ends at `length`): seal it, open the next.
        cipher.final();
        yield cipher.getAuthTag();
        cipher = cipherFor(++index);
        filled = 0;
      }
      const n = Math.min(segmentSize - filled, bytes.length - offset);
      yield cipher.update(bytes.subarray(offset, offset + n));
      filled += n;
      offset += n;
    }
  }
  if (seen !== length) throw onLengthMismatch(seen);
  cipher.final();
  yield cipher.getAuthTag();
}
