// Request bodies come in every shape the SDK accepts; encryption needs either all the bytes or a
// byte stream of known length. Input is validated here, at the boundary.
import { Readable } from 'node:stream';
import { BodyLengthError } from '../errors.js';

export type PlaintextBody =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'stream'; readonly source: AsyncIterable<Uint8Array>; readonly length: number };

function isWebStream(body: unknown): body is ReadableStream<Uint8Array> {
  return typeof (body as ReadableStream | undefined)?.getReader === 'function';
}

function isBlob(body: unknown): body is Blob {
  return typeof Blob !== 'undefined' && body instanceof Blob;
}

/** Classifies a PutObject/UploadPart body. Streams need `contentLength`, as S3 itself requires. */
export function plaintextBody(body: unknown, contentLength: number | undefined, command: string): PlaintextBody {
  if (body === undefined || body === null) return { kind: 'bytes', bytes: new Uint8Array(0) };
  if (typeof body === 'string') return { kind: 'bytes', bytes: Buffer.from(body, 'utf8') };
  if (body instanceof Uint8Array) return { kind: 'bytes', bytes: body };
  if (body instanceof ArrayBuffer) return { kind: 'bytes', bytes: new Uint8Array(body) };
  if (isBlob(body)) return { kind: 'stream', source: Readable.fromWeb(body.stream() as never), length: body.size };
  const length = contentLength;
  if (body instanceof Readable || isWebStream(body)) {
    if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
      throw new TypeError(
        `${command}: a stream Body needs ContentLength (the encrypted length depends on it); use Upload from @aws-sdk/lib-storage for streams of unknown length`,
      );
    }
    const source = body instanceof Readable ? body : Readable.fromWeb(body as never);
    return { kind: 'stream', source, length };
  }
  throw new TypeError(`${command}: unsupported Body type ${Object.prototype.toString.call(body)}`);
}

/** The error a stream body of the wrong length fails with (nothing is stored). */
export function lengthMismatch(command: string, declared: number) {
  return (actual: number) => new BodyLengthError(`${command}: Body yielded ${actual > declared ? 'more than' : 'only'} ${actual > declared ? declared : actual} bytes, ContentLength is ${declared}`);
}

