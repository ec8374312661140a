// Ranged GET responses, checked against what was asked before a byte is read, and read with a hard
// cap: a store that answers a 256 KiB request with gigabytes must not make the client buffer them.
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { Transform, type Readable } from 'node:stream';
import { DecryptionError, StoreResponseError } from '../errors.js';
import { quoteUntrusted } from '../untrusted-text.js';

/** The stored bytes a response carries, as its headers declare them. */
export interface ResponseBytes {
  /** Bytes in this response. */
  readonly length: number;
  /** Bytes in the whole stored object. */
  readonly total: number;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** Closes the connection a response body arrives on, without reading it. */
export function discardBody(response: GetObjectCommandOutput): void {
  (response.Body as Readable | undefined)?.destroy?.();
}

function tooLarge(response: GetObjectCommandOutput, what: string, asked: number, got: number | string): StoreResponseError {
  discardBody(response);
  return new StoreResponseError(`the store answered a request for ${asked} bytes of ${what} with ${got} bytes; the response was dropped unread`);
}

function unexpectedRange(response: GetObjectCommandOutput, what: string, asked: string): DecryptionError {
  discardBody(response);
  const got = response.ContentRange === undefined ? 'no Content-Range' : `Content-Range ${quoteUntrusted(response.ContentRange)}`;
  return new DecryptionError('ERR_OBJECT_MALFORMED', `the store answered ${asked} of ${what} with ${got}`);
}

function declaredRange(response: GetObjectCommandOutput): { start: number; end: number; total: number } | undefined {
  const match = CONTENT_RANGE.exec(response.ContentRange ?? '');
  if (!match) return undefined;
  const [start, last, total] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (![start, last, total].every(Number.isSafeInteger) || last < start || last >= total) return undefined;
  return { start, end: last + 1, total };
}

/**
 * Checks the answer to `Range: bytes=-{asked}` before its body is read: at most `asked` bytes, and
 * exactly the last ones of the object. A store may also answer 200 with the whole (small) object.
 */
export function expectSuffix(response: GetObjectCommandOutput, asked: number, what: string): ResponseBytes {
  const declared = response.ContentLength;
  if (declared !== undefined && declared > asked) throw tooLarge(response, what, asked, declared);
  if (response.ContentRange === undefined && response.$metadata.httpStatusCode === 200) {
    if (declared === undefined || !Number.isSafeInteger(declared)) throw unexpectedRange(response, what, `the last ${asked} bytes`);
    return { length: declared, total: declared };
  }
  // An empty object has no last bytes: S3 answers 416, MinIO 206 with "bytes 0--1/0".
  if (/^bytes \S*\/0$/.test(response.ContentRange ?? '') && (declared ?? 0) === 0) return { length: 0, total: 0 };
  const range = declaredRange(response);
  const length = range ? range.end - range.start : NaN;
  if (!range || range.end !== range.total || length !== Math.min(asked, range.total) || (declared !== undefined && declared !== length)) {
    if (range && length > asked) throw tooLarge(response, what, asked, length);
    throw unexpectedRange(response, what, `the last ${asked} bytes`);
  }
  return { length, total: range.total };
}

/** Checks the answer to `Range: bytes={start}-{end - 1}` of an object of `total` bytes before its body is read. */
export function expectRange(response: GetObjectCommandOutput, start: number, end: number, total: number, what: string): void {
  const asked = end - start;
  const declared = response.ContentLength;
  if (declared !== undefined && declared > asked) throw tooLarge(response, what, asked, declared);
  const range = declaredRange(response);
  if (!range || range.start !== start || range.end !== end || range.total !== total || (declared !== undefined && declared !== asked)) {
    throw unexpectedRange(response, what, `bytes ${start}-${end - 1}/${total}`);
  }
}

function shortResponse(): DecryptionError {
  return new DecryptionError('ERR_OBJECT_TRUNCATED', 'the store sent fewer bytes than its response declared');
}

/**
 * Reads exactly `length` bytes of a response body. More fails as soon as the excess arrives (the
 * connection is closed), so memory never grows beyond `length`; fewer fails as truncated.
 */
export async function readExactly(response: GetObjectCommandOutput, length: number, what: string): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(length);
  await readExactlyInto(response, bytes, 0, length, what);
  return bytes;
}

/** {@link readExactly}, into `target` at `offset`: no buffer of its own, no second copy. */
export async function readExactlyInto(response: GetObjectCommandOutput, target: Buffer, offset: number, length: number, what: string): Promise<void> {
  const body = response.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
  if (!body) {
    if (length === 0) return;
    throw shortResponse();
  }
  let received = 0;
  for await (const chunk of body) {
    // Leaving the loop destroys the body, and with it the socket.
    if (received + chunk.length > length) throw tooLarge(response, what, length, `more than ${length}`);
    target.set(chunk, offset + received);
    received += chunk.length;
  }
  if (received < length) throw shortResponse();
}

/**
 * Counts a response body's bytes against the `length` asked for: `chunk` throws a StoreResponseError
 * as soon as one byte too many arrives, `end` throws ERR_OBJECT_TRUNCATED if fewer came.
 */
export function exactLength(length: number, what: string): { chunk: (bytes: number) => void; end: () => void } {
  let received = 0;
  return {
    chunk(bytes) {
      received += bytes;
      if (received > length) throw new StoreResponseError(`the store sent more than the ${length} bytes asked for of ${what}; the response was dropped`);
    },
    end() {
      if (received < length) throw shortResponse();
    },
  };
}

/**
 * A pass-through that lets exactly `length` bytes through: one byte more errors the stream with a
 * StoreResponseError at once (nothing is held back), and an early end errors it as truncated.
 */
export function exactly(length: number, what: string): Transform {
  const guard = exactLength(length, what);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        guard.chunk(chunk.length);
        callback(null, chunk);
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback) {
      try {
        guard.end();
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
