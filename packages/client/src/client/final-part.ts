// The last S3 part of an encrypted multipart upload: the trailer over the attempts completed with,
// after a held small last part (in the same S3 part) or as a part of its own (FORMAT.md §6).
import { UploadPartCommand, type CompletedPart } from '@aws-sdk/client-s3';
import { sealTrailer } from '../format/trailer.js';
import type { HandlerContext, SendOptions } from './context.js';
import type { PartAttempt, UploadState } from './multipart-state.js';
import { checksumValuesOf } from './plaintext-checksums.js';

/** A final part S3 acknowledged, and the attempts its trailer covers. */
export interface FinalPart {
  /** In part order. */
  readonly attempts: readonly PartAttempt[];
  readonly trailer: Buffer;
  readonly part: CompletedPart;
}

/** Seals the trailer over `attempts` (in part order) and uploads the final part. */
export async function sendFinalPart(ctx: HandlerContext, state: UploadState, uploadId: string, attempts: readonly PartAttempt[], options: SendOptions): Promise<FinalPart> {
  const trailer = sealTrailer(state.keys, state.params, attempts, ctx.signingKey);
  const last = attempts[attempts.length - 1];
  const PartNumber = last?.held ? last.partNumber : (last?.partNumber ?? 0) + 1;
  const Body = last?.held ? Buffer.concat([last.held, trailer]) : trailer;
  const output = await ctx.inner.send(
    new UploadPartCommand({ ...state.partDefaults, Bucket: state.bucket, Key: state.key, UploadId: uploadId, PartNumber, Body, ContentLength: Body.length }),
    options,
  );
  return { attempts, trailer, part: { PartNumber, ETag: output.ETag, ...checksumValuesOf(output) } };
}

/**
 * What CompleteMultipartUpload will most likely list once `held` is the last part: the latest attempt
 * of every other part number, then `held`; undefined if a higher part number exists.
 */
export function likelyAttempts(state: UploadState, held: PartAttempt): PartAttempt[] | undefined {
  const others = [...state.attempts.entries()]
    .filter(([partNumber]) => partNumber !== held.partNumber)
    .map(([, attempts]) => attempts[attempts.length - 1])
    .filter((attempt): attempt is PartAttempt => attempt !== undefined)
    .sort((a, b) => a.partNumber - b.partNumber);
  if (others.some((attempt) => attempt.partNumber > held.partNumber)) return undefined;
  return [...others, held];
}

/** The final part already uploaded for exactly these attempts, if there is one. */
export function finalPartFor(state: UploadState, attempts: readonly PartAttempt[]): FinalPart | undefined {
  const sent = state.finalPart;
  if (!sent || sent.attempts.length !== attempts.length) return undefined;
  return sent.attempts.every((attempt, index) => attempt === attempts[index]) ? sent : undefined;
}
