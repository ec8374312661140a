// Audit events: one structured value per key operation, emitted at the key seam into a sink. The
// schema is versioned (docs/AUDIT.md); events never carry key material, plaintext or secrets.
import type { S3CryptErrorCode } from '../errors.js';

/** Version of the {@link AuditEvent} schema. Bumped on any incompatible change. */
export const AUDIT_EVENT_SCHEMA = 1;

/**
 * What happened to a key.
 *
 * - `generate`: a fresh data key for a new object (keyring asked to generate and wrap).
 * - `wrap`: an existing data key wrapped for another location (CopyObject's destination).
 * - `unwrap`: a data key unwrapped to read an object.
 * - `rewrap`: a data key re-wrapped under another KEK in place (rotation).
 * - `policy`: the reader's key policy decided on an object before any keyring call.
 * - `plaintext-read`: an object without an envelope was read as plaintext, allowed by the caller's selection.
 * - `customer-key`: a caller-supplied per-request key was used (fingerprint only).
 * - `cache`: a cached keyring served or missed a key.
 * - `store`: an encrypted object was stored (PutObject, CompleteMultipartUpload, CopyObject); carries
 *   its authenticated identity, which exists only once the write is complete.
 */
export type AuditOperation = 'generate' | 'wrap' | 'unwrap' | 'rewrap' | 'policy' | 'plaintext-read' | 'customer-key' | 'cache' | 'store';

/** How it ended: done, failed (with an error code), refused by policy, or a cache hit/miss. */
export type AuditOutcome = 'success' | 'failure' | 'refused' | 'hit' | 'miss';

/** A key-encryption key as envelopes name it. */
export interface AuditKek {
  readonly providerId: string;
  readonly keyId: string;
}

/**
 * One audit event. Every field but `schema`, `time`, `operation` and `outcome` is present only when
 * known.
 *
 * @example
 * ```ts
 * const event: AuditEvent = { schema: 1, time: '2026-11-24T08:00:00.000Z', operation: 'unwrap', outcome: 'success',
 *   command: 'GetObject', bucket: 'b', key: 'k', keks: [{ providerId: 'raw-aes', keyId: 'app' }], formatVersion: 2 };
 * ```
 */
export interface AuditEvent {
  readonly schema: typeof AUDIT_EVENT_SCHEMA;
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string;
  readonly operation: AuditOperation;
  readonly outcome: AuditOutcome;
  /** The typed error code of a failure or refusal. */
  readonly reason?: S3CryptErrorCode;
  /** Who acted: configured by the application, or what the S3 client's credentials identify. Never a secret. */
  readonly principal?: string;
  /** The S3 command the operation served (`PutObject`, `GetObject`, …). */
  readonly command?: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly versionId?: string;
  /** The object's authenticated identity (docs/FORMAT.md §9.7). */
  readonly objectId?: string;
  /** The KEK(s) involved: the one that unwrapped, or those a new object was wrapped under. */
  readonly keks?: readonly AuditKek[];
  /** `s3ec` for an object in the AWS S3 Encryption Client's format; absent for s3crypt's own. */
  readonly format?: 's3ec';
  /** The object's format version: s3crypt 1 or 2, or with `format: 's3ec'` the S3EC version (1, 2 or 3). */
  readonly formatVersion?: number;
  /** Correlates the events of one `send` (a random id per call). */
  readonly requestId?: string;
  /** A caller key's fingerprint (customer-key events); reveals nothing about the key. */
  readonly keyFingerprint?: string;
}

/**
 * Receives audit events. `write` may return a promise: in fail-closed mode the operation waits for it
 * (the event is durable when the operation resolves); a rejection fails the operation.
 *
 * @example
 * ```ts
 * const sink: AuditSink = { write: (event) => void console.log(JSON.stringify(event)) };
 * ```
 */
export interface AuditSink {
  write(event: AuditEvent): void | Promise<void>;
  /** Flushes and releases resources; called by `EncryptingS3Client.destroy()` if present. */
  close?(): void | Promise<void>;
}
