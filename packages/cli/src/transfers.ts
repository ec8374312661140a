// The byte-moving steps of put, get, cat and cp: an encrypted upload from a file or a stream, a
// decrypting download to a file (atomically: temp file, fsync, rename) or a stream, and an S3-to-S3
// copy that authenticates its source and re-wraps for its destination.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3cryptInfo, withS3Crypt, type S3CryptObjectInfo, type S3CryptRequestOptions } from '@s3crypt/client';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import type { S3Location } from './locations.js';
import type { TransferProgress } from './progress.js';
import type { Session } from './session.js';

/** How an upload is cut: lib-storage's part size and parts in flight. */
export interface UploadSettings {
  readonly partSize: number;
  readonly queueSize: number;
  readonly contentType?: string | undefined;
  readonly metadata?: Record<string, string> | undefined;
}

export const DEFAULT_UPLOAD_SETTINGS: UploadSettings = { partSize: 16 * 1024 * 1024, queueSize: 4 };

/** Counts the bytes that pass through, for a progress bar. */
function counting(progress: TransferProgress): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      progress.update(bytes);
      callback(null, chunk);
    },
  });
}

/**
 * Encrypts `body` to `destination` with lib-storage's `Upload` (multipart when large or of unknown
 * size, memory bounded by the parts in flight). When `signal` aborts, the upload is aborted and its
 * multipart upload removed from the store: nothing is left behind.
 */
export async function upload(session: Session, body: Readable, destination: S3Location, settings: UploadSettings, progress: TransferProgress, signal: AbortSignal): Promise<S3CryptObjectInfo | undefined> {
  const client = await session.client();
  const customerKey = await session.customerKey();
  const params = {
    Bucket: destination.bucket,
    Key: destination.key,
    Body: body,
    ...(settings.contentType ? { ContentType: settings.contentType } : {}),
    ...(settings.metadata && Object.keys(settings.metadata).length ? { Metadata: settings.metadata } : {}),
    ...customerKey,
  };
  const context = session.requestOptions();
  const transfer = new Upload({
    client: Object.keys(context).length ? withContext(client, context) : client,
    params,
    partSize: settings.partSize,
    queueSize: settings.queueSize,
    leavePartsOnError: false,
  });
  transfer.on('httpUploadProgress', (event) => {
    if (event.loaded !== undefined) progress.update(event.loaded);
  });
  const onAbort = () => {
    void transfer.abort();
    // A stream that never ends (stdin waiting for input) would otherwise keep the upload open.
    body.destroy(new Error('interrupted'));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return s3cryptInfo(await transfer.done());
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** A client whose every command carries the session's request options (lib-storage sends the commands itself). */
function withContext<T extends { send: (...args: never[]) => unknown }>(client: T, options: ReturnType<Session['requestOptions']>): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
      return (command: Parameters<typeof withS3Crypt>[0], ...rest: unknown[]) => (target.send as (...args: unknown[]) => unknown)(withS3Crypt(command, options), ...rest);
    },
  });
}

/** Encrypts a local file to `destination`. */
export async function uploadFile(session: Session, path: string, destination: S3Location, settings: UploadSettings, progress: TransferProgress, signal: AbortSignal): Promise<S3CryptObjectInfo | undefined> {
  return upload(session, createReadStream(path), destination, settings, progress, signal);
}

/** GETs and decrypts `source` (or a range of it). Bytes are released segment by segment, each authenticated. */
export async function download(session: Session, source: S3Location, signal: AbortSignal, range?: string, request: S3CryptRequestOptions = {}): Promise<GetObjectCommandOutput & { Body: Readable }> {
  const client = await session.client();
  const command = new GetObjectCommand({ Bucket: source.bucket, Key: source.key, ...(range ? { Range: range } : {}), ...(await session.customerKey()) });
  const output = await client.send(withS3Crypt(command, { ...session.requestOptions(), ...request }), { abortSignal: signal });
  return output as GetObjectCommandOutput & { Body: Readable };
}

/** Decrypts `source` to a stream (stdout); the stream is not ended. */
export async function downloadToStream(session: Session, source: S3Location, out: NodeJS.WritableStream, progress: ProgressFor, signal: AbortSignal, range?: string, request: S3CryptRequestOptions = {}): Promise<void> {
  const { Body, ContentLength } = await download(session, source, signal, range, request);
  const bar = progress(ContentLength);
  try {
    await pipeline(Body, counting(bar), out, { end: false, signal });
  } finally {
    bar.stop();
  }
}

/** A progress bar for a transfer whose length is learnt from the response. */
export type ProgressFor = (total: number | undefined) => TransferProgress;

/**
 * Decrypts `source` into the file `path`, atomically: the plaintext goes to a temporary file in the
 * same directory, which is fsynced and renamed over `path` only once every byte authenticated. On any
 * failure (tampering, a dropped connection, Ctrl-C) the temporary file is removed: no partial
 * plaintext file is ever left behind, and an existing `path` stays as it was.
 */
export async function downloadToFile(session: Session, source: S3Location, path: string, progress: ProgressFor, signal: AbortSignal, request: S3CryptRequestOptions = {}): Promise<void> {
  const { Body, ContentLength } = await download(session, source, signal, undefined, request);
  const bar = progress(ContentLength);
  const temporary = join(dirname(path), `.${basename(path)}.s3crypt-${randomBytes(6).toString('hex')}.partial`);
  // 'wx': never follows or reuses an existing file; flush: fsync before close, so the rename below
  // publishes bytes that are on disk.
  const file = createWriteStream(temporary, { flags: 'wx', flush: true });
  try {
    await pipeline(Body, counting(bar), file, { signal });
    await rename(temporary, path);
  } catch (error) {
    Body.destroy();
    // Removed only once closed: an open still in flight would otherwise recreate the file after rm.
    if (!file.closed) await new Promise<void>((resolve) => file.destroy().once('close', () => resolve()));
    await rm(temporary, { force: true });
    throw error;
  } finally {
    bar.stop();
  }
}

/** S3 to S3: the client authenticates the whole source, then wraps its data key for the destination. */
export async function copyBetweenBuckets(session: Session, source: S3Location, destination: S3Location, signal: AbortSignal): Promise<void> {
  const client = await session.client();
  const customerKey = await session.customerKey();
  const command = new CopyObjectCommand({
    Bucket: destination.bucket,
    Key: destination.key,
    CopySource: `${source.bucket}/${encodeURIComponent(source.key).replace(/%2F/g, '/')}`,
    ...customerKey,
    ...(customerKey ? { CopySourceSSECustomerAlgorithm: customerKey.SSECustomerAlgorithm, CopySourceSSECustomerKey: customerKey.SSECustomerKey, CopySourceSSECustomerKeyMD5: customerKey.SSECustomerKeyMD5 } : {}),
  });
  await client.send(withS3Crypt(command, session.requestOptions()), { abortSignal: signal });
}

/** The plaintext length of an object as the encrypting client authenticates it, or undefined when there is none. */
export async function plaintextLengthOf(session: Session, object: S3Location, signal: AbortSignal): Promise<number | undefined> {
  const client = await session.client();
  try {
    const head = await client.send(withS3Crypt(new HeadObjectCommand({ Bucket: object.bucket, Key: object.key, ...(await session.customerKey()) }), session.requestOptions()), { abortSignal: signal });
    return head.ContentLength;
  } catch (error) {
    if (exitCodeOf(error) === ExitCode.NotFound) return undefined;
    throw error;
  }
}

/** The size of a local file, or undefined when there is none. */
export async function localSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}
