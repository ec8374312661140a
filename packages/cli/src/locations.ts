// Command-line locations: `s3://bucket/key` or `s3://bucket/prefix/`, a local path, or `-` (a pipe).
import { usageError } from './exit-codes.js';

/** An object or prefix in a bucket. */
export interface S3Location {
  readonly kind: 's3';
  readonly bucket: string;
  /** The key, or prefix; '' for the whole bucket. */
  readonly key: string;
}

/** A local file or directory. */
export interface LocalLocation {
  readonly kind: 'local';
  readonly path: string;
}

/** Standard input or output. */
export interface PipeLocation {
  readonly kind: 'pipe';
}

export type Location = S3Location | LocalLocation | PipeLocation;

// S3's bucket naming rules (lower case, digits, dots, hyphens, 3–63) loosened to what S3-compatible
// stores accept (MinIO's underscores, upper case in legacy buckets); anything else is a typo.
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

/** Parses `s3://bucket[/key]`, `-`, or a local path. */
export function parseLocation(text: string): Location {
  if (text === '-') return { kind: 'pipe' };
  if (!/^s3:\/\//i.test(text)) return { kind: 'local', path: text };
  const rest = text.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  if (!BUCKET.test(bucket)) throw usageError(`${JSON.stringify(text)} does not name a bucket: expected s3://BUCKET/KEY`);
  return { kind: 's3', bucket, key };
}

/** An S3 location naming one object. */
export function parseObjectLocation(text: string, what: string): S3Location {
  const location = parseLocation(text);
  if (location.kind !== 's3' || location.key === '' || location.key.endsWith('/')) throw usageError(`${what} must be an object, s3://BUCKET/KEY (got ${JSON.stringify(text)})`);
  return location;
}

/** An S3 location naming a bucket or a prefix. */
export function parsePrefixLocation(text: string, what: string): S3Location {
  const location = parseLocation(text);
  if (location.kind !== 's3') throw usageError(`${what} must be s3://BUCKET[/PREFIX] (got ${JSON.stringify(text)})`);
  return location;
}

/** `s3://bucket/key`, for messages and output. */
export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
