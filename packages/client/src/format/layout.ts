// Where every byte lives: from the authenticated trailer entries to plaintext/ciphertext offsets, and
// from a plaintext byte range to the sealed segments that must be fetched and opened to serve it.
import { DecryptionError } from '../errors.js';
import { TAG_LENGTH } from './constants.js';
import { encryptedPartLength } from './segments.js';
import { trailerLength, type TrailerEntry } from './trailer.js';

export interface PartLayout extends TrailerEntry {
  readonly plainOffset: number;
  readonly cipherOffset: number;
}

export interface ObjectLayout {
  readonly segmentSize: number;
  readonly parts: readonly PartLayout[];
  readonly plaintextLength: number;
  /** Stored bytes of the data parts; the trailer starts here. */
  readonly dataLength: number;
  /** Stored bytes of the whole object, trailer included. */
  readonly totalLength: number;
}

export function objectLayout(entries: readonly TrailerEntry[], segmentSize: number, signed = false): ObjectLayout {
  let plainOffset = 0;
  let cipherOffset = 0;
  const parts = entries.map((entry) => {
    const part = { ...entry, plainOffset, cipherOffset };
    plainOffset += entry.length;
    cipherOffset += encryptedPartLength(entry.length, segmentSize);
    return part;
  });
  return {
    segmentSize,
    parts,
    plaintextLength: plainOffset,
    dataLength: cipherOffset,
    totalLength: cipherOffset + trailerLength(entries.length, signed),
  };
}

/**
 * The layout an object of `storedLength` stored bytes has if it is one data part (a single PUT): a
 * guess made before the trailer is read, for asking for bytes early. Only the authenticated layout
 * decides what is read; undefined when no one-part object has that length.
 */
export function singlePartLayout(storedLength: number, segmentSize: number, signed: boolean): ObjectLayout | undefined {
  const dataLength = storedLength - trailerLength(1, signed);
  const segments = Math.max(1, Math.ceil(dataLength / (segmentSize + TAG_LENGTH)));
  const length = dataLength - TAG_LENGTH * segments;
  if (!(segmentSize > 0) || length < 0 || encryptedPartLength(length, segmentSize) !== dataLength) return undefined;
  return objectLayout([{ partNumber: 1, length, salt: new Uint8Array(0) }], segmentSize, signed);
}

/** Fails unless the stored object is exactly as long as its trailer says. */
export function checkStoredLength(layout: ObjectLayout, storedLength: number): void {
  if (storedLength < layout.totalLength) throw new DecryptionError('ERR_OBJECT_TRUNCATED');
  if (storedLength > layout.totalLength) throw new DecryptionError('ERR_OBJECT_MALFORMED');
}

/** One sealed segment to open, and which of its plaintext bytes to keep. */
export interface SegmentPlan {
  readonly partIndex: number;
  readonly index: number;
  readonly final: boolean;
  readonly sealedLength: number;
  readonly keepFrom: number;
  readonly keepTo: number;
}

export interface ReadPlan {
  /** Stored byte range to fetch, end exclusive. */
  readonly cipherStart: number;
  readonly cipherEnd: number;
  /** Indexes of the parts whose keys are needed. */
  readonly partIndexes: readonly number[];
  segments(): Generator<SegmentPlan>;
}

/**
 * Plans reading plaintext bytes [start, end). With `whole`, every segment of every part is opened,
 * including the empty segments of empty parts, so a full read authenticates every stored data byte.
 */
export function planRead(layout: ObjectLayout, start: number, end: number, whole = false): ReadPlan {
  const { segmentSize } = layout;
  const touched = layout.parts
    .map((part, partIndex) => ({ part, partIndex }))
    .filter(({ part }) => (whole ? true : part.plainOffset < end && part.plainOffset + part.length > start));
  const firstSegment = (part: PartLayout) => (whole ? 0 : Math.floor(Math.max(0, start - part.plainOffset) / segmentSize));
  const lastSegment = (part: PartLayout) =>
    whole || part.length === 0
      ? Math.max(0, Math.ceil(part.length / segmentSize) - 1)
      : Math.floor((Math.min(end, part.plainOffset + part.length) - 1 - part.plainOffset) / segmentSize);
  const sealedStart = (part: PartLayout, index: number) => part.cipherOffset + index * (segmentSize + TAG_LENGTH);
  const first = touched[0];
  const last = touched[touched.length - 1];
  const cipherStart = first ? sealedStart(first.part, firstSegment(first.part)) : 0;
  const cipherEnd = last
    ? Math.min(sealedStart(last.part, lastSegment(last.part)) + segmentSize + TAG_LENGTH, last.part.cipherOffset + encryptedPartLength(last.part.length, segmentSize))
    : 0;
  return {
    cipherStart,
    cipherEnd,
    partIndexes: touched.map(({ partIndex }) => partIndex),
    *segments() {
      for (const { part, partIndex } of touched) {
        const lastIndex = Math.max(0, Math.ceil(part.length / segmentSize) - 1);
        for (let index = firstSegment(part); index <= lastSegment(part); index++) {
          const plainStart = part.plainOffset + index * segmentSize;
          const plainLength = Math.min(segmentSize, part.length - index * segmentSize);
          yield {
            partIndex,
            index,
            final: index === lastIndex,
            sealedLength: plainLength + TAG_LENGTH,
            keepFrom: Math.max(0, start - plainStart),
            keepTo: Math.min(plainLength, end - plainStart),
          };
        }
      }
    },
  };
}
