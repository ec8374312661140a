// Opens a stream of sealed segments according to a read plan. Ciphertext is fed to GCM as it
// arrives (no re-buffering), but each segment's plaintext is held back until its tag has verified;
// a stream that ends early or runs long fails instead of ending cleanly.
import { createDecipheriv, type DecipherGCM, type KeyObject } from 'node:crypto';
import { Transform } from 'node:stream';
import { DecryptionError } from '../errors.js';
import { secretKey } from '../secret-key.js';
import { TAG_LENGTH } from './constants.js';
import type { SegmentPlan } from './layout.js';
import { segmentNonce } from './segments.js';

/** One segment being opened: ciphertext in, verified plaintext out. */
class OpeningSegment {
  readonly #decipher: DecipherGCM;
  readonly #tag = Buffer.alloc(TAG_LENGTH);
  #ciphertextLeft: number;
  #tagFilled = 0;
  readonly #plaintext: Buffer[] = [];

  constructor(
    readonly plan: SegmentPlan,
    key: KeyObject,
  ) {
    this.#decipher = createDecipheriv('aes-256-gcm', key, segmentNonce(plan.index, plan.final));
    this.#ciphertextLeft = plan.sealedLength - TAG_LENGTH;
  }

  get complete(): boolean {
    return this.#ciphertextLeft === 0 && this.#tagFilled === TAG_LENGTH;
  }

  /** Consumes bytes of `chunk` from `offset`; returns how many were used. */
  feed(chunk: Buffer, offset: number): number {
    let used = 0;
    if (this.#ciphertextLeft > 0) {
      const n = Math.min(this.#ciphertextLeft, chunk.length - offset);
      this.#plaintext.push(this.#decipher.update(chunk.subarray(offset, offset + n)));
      this.#ciphertextLeft -= n;
      used += n;
    }
    const n = Math.min(TAG_LENGTH - this.#tagFilled, chunk.length - offset - used);
    if (n > 0) {
      chunk.copy(this.#tag, this.#tagFilled, offset + used, offset + used + n);
      this.#tagFilled += n;
      used += n;
    }
    return used;
  }

  /** Verifies the tag; only then returns the plaintext bytes the plan keeps. */
  finish(): Buffer[] {
    this.#decipher.setAuthTag(this.#tag);
    try {
      this.#decipher.final();
    } catch {
      for (const piece of this.#plaintext) piece.fill(0);
      throw new DecryptionError('ERR_DECRYPTION_FAILED');
    }
    const kept: Buffer[] = [];
    let position = 0;
    for (const piece of this.#plaintext) {
      const from = Math.max(this.plan.keepFrom - position, 0);
      const to = Math.min(this.plan.keepTo - position, piece.length);
      if (to > from) kept.push(from === 0 && to === piece.length ? piece : piece.subarray(from, to));
      position += piece.length;
    }
    return kept;
  }
}

/**
 * Opens sealed segments pushed in arbitrary chunks, synchronously. `push` returns verified plaintext
 * as soon as each segment's tag checks; `end` fails if the plan expected more bytes.
 */
export class SegmentOpener {
  readonly #segments: Iterator<SegmentPlan>;
  readonly #keyForPart: (partIndex: number) => Uint8Array | KeyObject;
  /** One KeyObject per part, made on its first segment: cheaper cipher objects for the others. */
  #partKey: { readonly partIndex: number; readonly key: KeyObject } | undefined;
  #current: OpeningSegment | undefined;

  constructor(plan: Iterable<SegmentPlan>, keyForPart: (partIndex: number) => Uint8Array | KeyObject) {
    this.#segments = plan[Symbol.iterator]();
    this.#keyForPart = keyForPart;
    this.#current = this.#next();
  }

  #next(): OpeningSegment | undefined {
    const next = this.#segments.next();
    if (next.done) return undefined;
    const { partIndex } = next.value;
    if (this.#partKey?.partIndex !== partIndex) this.#partKey = { partIndex, key: secretKey(this.#keyForPart(partIndex)) };
    return new OpeningSegment(next.value, this.#partKey.key);
  }

  push(data: Uint8Array): Buffer[] {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const released: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.#current) throw new DecryptionError('ERR_OBJECT_MALFORMED');
      offset += this.#current.feed(chunk, offset);
      if (this.#current.complete) {
        released.push(...this.#current.finish());
        this.#current = this.#next();
      }
    }
    return released;
  }

  end(): void {
    // Every segment has at least a tag, so a segment still open means stored bytes are missing.
    if (this.#current) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  }
}

const TRANSFORM_BUFFER_BYTES = 1024 * 1024;

/**
 * A Transform from sealed bytes to verified plaintext, followed by `suffix` when its input ends; it
 * errors with a DecryptionError on tampering.
 */
export function openSegmentsTransform(
  plan: Iterable<SegmentPlan>,
  keyForPart: (partIndex: number) => Uint8Array | KeyObject,
  onClose: () => void,
  /** Sealed bytes that follow the piped stream, already in memory (the object's tail). */
  suffix: Uint8Array = new Uint8Array(0),
): Transform {
  const opener = new SegmentOpener(plan, keyForPart);
  const transform = new Transform({
    // Room for a few segments each way, so the socket keeps flowing while the consumer catches up
    // (the 16 KiB default stalls it on every 64 KiB segment). Memory stays bounded by this, per GET.
    highWaterMark: TRANSFORM_BUFFER_BYTES,
    transform(chunk: Buffer, _encoding, callback) {
      try {
        for (const piece of opener.push(chunk)) this.push(piece);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback) {
      try {
        for (const piece of opener.push(suffix)) this.push(piece);
        opener.end();
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  transform.once('close', onClose);
  return transform;
}

/** The same as {@link openSegmentsTransform}, as an async generator over an async source. */
export async function* openSegments(
  source: AsyncIterable<Uint8Array>,
  plan: Iterable<SegmentPlan>,
  keyForPart: (partIndex: number) => Uint8Array | KeyObject,
): AsyncGenerator<Buffer> {
  const opener = new SegmentOpener(plan, keyForPart);
  for await (const chunk of source) yield* opener.push(chunk);
  opener.end();
}
