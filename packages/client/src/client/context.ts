import type { LayoutHints } from './layout-hints.js';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AuditScope } from '../audit/scope.js';
import type { KeyObject } from 'node:crypto';
import type { CustomerKeyring } from '../keyrings/customer-key.js';
import type { Keyring } from '../keyrings/keyring.js';
import { quoteUntrusted } from '../untrusted-text.js';
import type { ResolvedKeyPolicy } from './key-policy.js';
import type { MultipartUploads } from './multipart-state.js';
import type { PlaintextReadPolicy } from './plaintext-reads.js';
import type { ResolvedS3ecOptions } from './s3ec-options.js';
import type { ParallelReads } from '../parallel/options.js';

/** Which keyring wraps and unwraps an object's data key, and which wrapped keys a read may try. */
export interface ObjectKeys {
  readonly keyring: Keyring;
  readonly policy: ResolvedKeyPolicy;
}

/**
 * What every command handler needs from the client. `keyring` and `policy` are the keys of the
 * command's object (the destination of a copy): the client's own, or those of the customer key the
 * request presented (customer-keys.ts).
 */
export interface HandlerContext extends ObjectKeys {
  readonly inner: S3Client;
  /** CopyObject: the source's keys, when they are not the destination's. */
  readonly source?: ObjectKeys;
  /** The customer key the request presented for its object (handled client-side), if any. */
  readonly customerKey?: CustomerKeyring;
  /** Signs every object written (format 2 suite 2), when set. */
  readonly signingKey?: KeyObject;
  readonly signerId?: Uint8Array;
  readonly segmentSize: number;
  /** Which objects without an envelope may be read as plaintext (the caller's `allowPlaintextReads`). */
  readonly plaintextReads: PlaintextReadPolicy;
  readonly uploads: MultipartUploads;
  /** Layouts earlier reads found, for guessing what a ranged read will need (layout-hints.ts). */
  readonly layoutHints: LayoutHints;
  /** Objects of the AWS S3 Encryption Client are read as this says; undefined: they are refused. */
  readonly s3ec?: ResolvedS3ecOptions;
  /** The audit scope of the current `send`, when the client audits. */
  readonly audit?: AuditScope;
  /** Parallel ranged GETs for large reads: the client's setting and its decryption workers. */
  readonly parallelReads?: ParallelReads;
}

/** Send options as the SDK takes them (abortSignal, requestTimeout). */
export type SendOptions = Parameters<S3Client['send']>[1] | undefined;

/** The caller's abort signal, if any. */
export function signalOf(options: SendOptions): AbortSignal | undefined {
  return (options as { abortSignal?: AbortSignal } | undefined)?.abortSignal;
}

/** How messages name an object: `s3://bucket/key`, escaped. */
export function objectName(bucket: string, key: string): string {
  return quoteUntrusted(`s3://${bucket}/${key}`);
}

export function requireString(value: unknown, name: string, command: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${command}: ${name} must be a non-empty string`);
  return value;
}

/** The S3 checksum value fields (each names an algorithm; ChecksumAlgorithm/ChecksumType are not values). */
export const CHECKSUM_FIELDS = [
  'ChecksumCRC32',
  'ChecksumCRC32C',
  'ChecksumCRC64NVME',
  'ChecksumSHA1',
  'ChecksumSHA256',
  'ChecksumSHA512',
  'ChecksumMD5',
  'ChecksumXXHASH64',
  'ChecksumXXHASH3',
  'ChecksumXXHASH128',
] as const;

export type ChecksumField = (typeof CHECKSUM_FIELDS)[number];

/**
 * Checksums and MD5s a caller computed over the plaintext cannot describe the ciphertext we send (they
 * are verified against the plaintext instead, see plaintext-checksums.ts); the SDK computes fresh
 * ones over the ciphertext (ChecksumAlgorithm is kept).
 */
export function withoutPlaintextChecksums<T extends object>(input: T): T {
  const copy = { ...input } as Record<string, unknown>;
  for (const key of ['ContentMD5', ...CHECKSUM_FIELDS]) delete copy[key];
  return copy as T;
}
