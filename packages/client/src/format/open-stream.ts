// Opens a stream of sealed segments according to a read plan. Ciphertext is fed to GCM as it
// arrives (no re-buffering), but each segment's plaintext is held back until its tag has verified;
// a stream that ends early or runs long fails instead of ending cleanly.
import { createDecipheriv, type DecipherGCM, type KeyObject } from 'node:crypto';
import { finished, Readable } from 'node:stream';
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

/** Verified plaintext held ahead of the consumer before the source (the socket) is paused, per GET. */
export const READ_AHEAD_BYTES = 1024 * 1024;

/** Options of {@link openSegmentsStream}. */
export interface OpenSegmentsStreamOptions {
  /** Sealed bytes that follow the source's, already in memory (the object's tail). */
  readonly suffix?: Uint8Array;
  /** Called once when the stream closes, however it ends (zero the part keys here). */
  readonly onClose?: () => void;
  /**
   * Checks every chunk of `source` as it arrives (throw to fail the stream at once, e.g. on bytes
   * beyond what was asked for), and once at its end (throw if it ended early).
   */
  readonly sourceGuard?: { readonly chunk: (length: number) => void; readonly end: () => void };
}

/**
 * Verified plaintext of a sealed source stream. One piece is handed over per read, so a consumer
 * that reads (for await, read()) gets each decrypted buffer as is, where a Transform would have
 * concatenated all it had buffered into a fresh copy. Read-ahead is bounded: the source is paused
 * while READ_AHEAD_BYTES of verified plaintext wait for the consumer.
 */
class OpenedStream extends Readable {
  readonly #source: Readable;
  readonly #opener: SegmentOpener;
  readonly #options: OpenSegmentsStreamOptions;
  readonly #ready: Buffer[] = [];
  #readyBytes = 0;
  /** The consumer asked for data (_read) and has not been given any yet. */
  #waiting = false;
  /** The source ended and every verified byte is in #ready. */
  #complete = false;

  constructor(source: Readable, opener: SegmentOpener, options: OpenSegmentsStreamOptions) {
    // No buffering in the Readable itself (it would concatenate): #ready is the buffer.
    super({ highWaterMark: 0 });
    this.#source = source;
    this.#opener = opener;
    this.#options = options;
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.once('end', () => this.#onEnd());
    // A source that errors or closes before its end fails this stream; one that ended is done.
    finished(source, (error) => {
      if (error && !this.#complete) this.destroy(error);
    });
  }

  #onData(chunk: Buffer): void {
    try {
      this.#options.sourceGuard?.chunk(chunk.length);
      this.#enqueue(this.#opener.push(chunk));
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    if (this.#readyBytes >= READ_AHEAD_BYTES) this.#source.pause();
  }

  #onEnd(): void {
    try {
      this.#options.sourceGuard?.end();
      this.#enqueue(this.#opener.push(this.#options.suffix ?? new Uint8Array(0)));
      this.#opener.end();
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    this.#complete = true;
    if (this.#waiting && this.#ready.length === 0) this.push(null);
  }

  #enqueue(pieces: readonly Buffer[]): void {
    for (const piece of pieces) {
      this.#ready.push(piece);
      this.#readyBytes += piece.length;
    }
    if (this.#waiting && this.#ready.length > 0) {
      this.#waiting = false;
      this.#pushNext();
    }
  }

  #pushNext(): void {
    const piece = this.#ready.shift()!;
    this.#readyBytes -= piece.length;
    if (this.#readyBytes < READ_AHEAD_BYTES && this.#source.isPaused()) this.#source.resume();
    this.push(piece);
  }

  override _read(): void {
    if (this.#ready.length > 0) this.#pushNext();
    else if (this.#complete) this.push(null);
    else this.#waiting = true;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#ready.length = 0;
    this.#source.destroy();
    callback(error);
  }
}

/**
 * The verified plaintext of the sealed bytes `source` delivers, followed by `options.suffix`; errors
 * with a DecryptionError on tampering, and closes `source` when destroyed.
 *
 * @example
 * ```ts
 * const plaintext = openSegmentsStream(response.Body as Readable, plan.segments(), (part) => partKeys.get(part)!, { onClose: zeroKeys });
 * ```
 */
export function openSegmentsStream(
  source: Readable,
  plan: Iterable<SegmentPlan>,
  keyForPart: (partIndex: number) => Uint8Array | KeyObject,
  options: OpenSegmentsStreamOptions = {},
): Readable {
  const stream = new OpenedStream(source, new SegmentOpener(plan, keyForPart), options);
  if (options.onClose) stream.once('close', options.onClose);
  return stream;
}

/** The same as {@link openSegmentsStream}, as an async generator over an async source. */
export async function* openSegments(
  source: AsyncIterable<Uint8Array>,
  plan: Iterable<SegmentPlan>,
  keyForPart: (partIndex: number) => Uint8Array | KeyObject,
): AsyncGenerator<Buffer> {
  const opener = new SegmentOpener(plan, keyForPart);
  for await (const chunk of source) yield* opener.push(chunk);
  opener.end();
}
