// Opens a run of consecutive sealed segments held whole in memory: the unit of work of a parallel
// read, done on a worker thread or on the caller's. The same function runs in both places: a worker
// gets its source text (decrypt-pool.ts), so it must stay self-contained — no imports, no helpers
// from outside its body, only its parameters and globals (Buffer).
import type * as NodeCrypto from 'node:crypto';
import type { SegmentPlan } from './layout.js';

/** One segment of a {@link SealedRange}: a segment of the read plan (layout.ts). */
export type SealedSegment = SegmentPlan;

/** Consecutive sealed segments, their part keys, and how many plaintext bytes they keep. */
export interface SealedRange {
  /** Exactly the stored bytes of `segments`, one after the other. */
  readonly sealed: Uint8Array;
  readonly segments: readonly SealedSegment[];
  /** Part keys by part index (the caller zeroes them). */
  readonly keys: Readonly<Record<number, Uint8Array>>;
  /** The sum of `keepTo - keepFrom` over `segments`. */
  readonly plaintextLength: number;
}

/**
 * The kept plaintext of every segment, in order, one piece per segment (GCM's own output, not copied
 * again); or, if a tag fails or the bytes do not match the segments, which segment failed and nothing
 * else: plaintext already opened is zeroed, and a failing segment's plaintext never leaves this function.
 */
export type OpenedRange = { readonly ok: true; readonly plaintext: Buffer[] } | { readonly ok: false; readonly segment: number; readonly reason: 'tag' | 'length' };

/**
 * Authenticates and decrypts a {@link SealedRange} (docs/FORMAT.md §4: one AES-256-GCM message per
 * segment, nonce = 7 zero bytes ‖ index(u32) ‖ final(u8), tag after the ciphertext).
 */
export function openSealedRange(crypto: typeof NodeCrypto, range: SealedRange): OpenedRange {
  const TAG = 16;
  const plaintext: Buffer[] = [];
  const fail = (segment: number, reason: 'tag' | 'length'): OpenedRange => {
    for (const piece of plaintext) piece.fill(0);
    return { ok: false, segment, reason };
  };
  const nonce = Buffer.alloc(12);
  // One KeyObject per part: handing raw key bytes to every createDecipheriv costs a type check each (secret-key.ts).
  const keyObjects = new Map<number, NodeCrypto.KeyObject>();
  const keyOf = (partIndex: number): NodeCrypto.KeyObject => {
    let key = keyObjects.get(partIndex);
    if (!key) keyObjects.set(partIndex, (key = crypto.createSecretKey(range.keys[partIndex]!)));
    return key;
  };
  let offset = 0;
  let kept = 0;
  for (let i = 0; i < range.segments.length; i++) {
    const segment = range.segments[i]!;
    const ciphertextLength = segment.sealedLength - TAG;
    if (ciphertextLength < 0 || offset + segment.sealedLength > range.sealed.length || segment.keepFrom < 0 || segment.keepTo < segment.keepFrom || segment.keepTo > ciphertextLength) {
      return fail(i, 'length');
    }
    nonce.writeUInt32BE(segment.index, 7);
    nonce[11] = segment.final ? 1 : 0;
    const decipher = crypto.createDecipheriv('aes-256-gcm', keyOf(segment.partIndex), nonce);
    decipher.setAuthTag(range.sealed.subarray(offset + ciphertextLength, offset + segment.sealedLength));
    const opened = decipher.update(range.sealed.subarray(offset, offset + ciphertextLength));
    try {
      decipher.final();
    } catch {
      opened.fill(0);
      return fail(i, 'tag');
    }
    if (segment.keepTo > segment.keepFrom) plaintext.push(segment.keepFrom === 0 && segment.keepTo === opened.length ? opened : opened.subarray(segment.keepFrom, segment.keepTo));
    kept += segment.keepTo - segment.keepFrom;
    offset += segment.sealedLength;
  }
  if (offset !== range.sealed.length || kept !== range.plaintextLength) return fail(range.segments.length, 'length');
  return { ok: true, plaintext };
}
