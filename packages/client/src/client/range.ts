// Plaintext byte ranges requested through GetObject's Range or PartNumber.
import { S3ServiceException } from '@aws-sdk/client-s3';
import type { ObjectLayout } from '../format/layout.js';

/** The error S3 itself answers with (HTTP 416), so callers' handling of plain S3 keeps working. */
function notSatisfiable(name: 'InvalidRange' | 'InvalidPartNumber', message: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 416 }, message });
}

export interface PlainRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly whole: boolean;
}

/** Resolves `bytes=a-b`, `bytes=a-` and `bytes=-n` against an object of `length` bytes, as HTTP does. */
export function resolveRange(header: string, length: number): PlainRange {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) {
    throw new TypeError(`GetObject: Range "${header}" is not supported; use bytes=a-b, bytes=a- or bytes=-n (one range)`);
  }
  const [, first = '', last = ''] = match;
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    start = Math.max(0, length - suffix);
    end = length;
    if (suffix === 0) start = length;
  } else {
    start = Number(first);
    end = last === '' ? length : Math.min(length, Number(last) + 1);
    if (last !== '' && Number(last) < start) throw new TypeError(`GetObject: Range "${header}" ends before it starts`);
  }
  if (start >= length || start >= end) {
    throw notSatisfiable('InvalidRange', `GetObject: Range "${header}" is not satisfiable for an object of ${length} bytes`);
  }
  return { start, end, whole: false };
}

/** The plaintext range of data part `partNumber` (the S3 part number it was uploaded with). */
export function partRange(partNumber: number, layout: ObjectLayout): PlainRange {
  const part = layout.parts.find((p) => p.partNumber === partNumber);
  if (!part) throw notSatisfiable('InvalidPartNumber', `GetObject: part ${partNumber} does not exist; the object has ${layout.parts.length} part(s)`);
  return { start: part.plainOffset, end: part.plainOffset + part.length, whole: false };
}
