// One object's key rotation: the step that the single-machine engine (rotate-keys.ts) and the S3
// Batch Operations handler (@s3crypt/batch-rotation) share. It decides from a HEAD whether the object
// is selected and not yet under the target KEKs, then re-wraps its data key in place (metadata-only
// copy, data untouched), or on request rewrites it with a fresh data key, or encrypts a plaintext
// object in place. Every write is conditional on the ETag that was read.
import { HeadObjectCommand, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { FORMAT_VERSION_1 } from '../format/constants.js';
import { findEnvelope, metadataWithEnvelope, parseEnvelope, withoutEnvelope, type Envelope } from '../format/envelope.js';
import { rewrappedEnvelope } from '../format/object.js';
import { CUSTOMER_KEY_PROVIDER_ID, CustomerKeyring } from '../keyrings/customer-key.js';
import { objectEncryptionContext, type EncryptedDataKey, type EncryptionContext, type KekMatcher, type Keyring } from '../keyrings/keyring.js';
import type { EncryptingS3Client } from '../client/encrypting-client.js';
import type { HandlerContext, SendOptions } from '../client/context.js';
import { operationContext } from '../client/internals.js';
import { matches } from '../client/key-policy.js';
import { wrapDataKey } from '../client/materials.js';
import { namingObject } from '../client/object-errors.js';
import { openObject } from '../client/read-object.js';
import { changedMeanwhile, copyInPlace, copySource, MAX_COPY_OBJECT_LENGTH, type CopySourceObject } from './in-place-copy.js';
import { failureReason, type FailureReason } from '../bulk/failure.js';
import { rewriteInPlace } from './rewrite-in-place.js';
import { storedAsS3ec } from '../client/s3ec-read.js';
import { parseS3ecMetadata } from '../format/s3ec/metadata.js';

/**
 * Which objects a rotation takes, beyond the prefix it lists. Every condition given must hold.
 *
 * @example
 * ```ts
 * const selection: RotationSelection = { fromKeks: [{ providerId: 'raw-aes', keyId: 'app-key-2025' }], modifiedBefore: new Date('2026-01-01') };
 * ```
 */
export interface RotationSelection {
  /** Only objects with a wrapped key under one of these KEKs (e.g. the KEK or KEK version being retired). */
  readonly fromKeks?: readonly KekMatcher[];
  /** Only objects last modified before this time (`--older-than 30d` is `new Date(Date.now() - 30 * 86_400_000)`). */
  readonly modifiedBefore?: Date;
  /** Only objects carrying every one of these tags (or for which the predicate holds). Costs one GetObjectTagging per object. */
  readonly tags?: Readonly<Record<string, string>> | ((tags: Readonly<Record<string, string>>) => boolean);
  /** Only objects whose user metadata has every one of these entries (or for which the predicate holds). */
  readonly metadata?: Readonly<Record<string, string>> | ((metadata: Readonly<Record<string, string>>) => boolean);
}

/**
 * What a rotation does to each selected object.
 *
 * @example
 * ```ts
 * const options: RotateObjectOptions = { to: new RawAesKeyring({ keyName: 'app-key-2026', masterKey }), dryRun: true };
 * ```
 */
export interface RotateObjectOptions extends RotationSelection {
  /** The keyring that wraps the data keys from now on (any Keyring, a `CustomerKeyring` included). */
  readonly to: Keyring;
  /**
   * The KEKs that count as "already rotated": objects whose every wrapped key matches one are skipped.
   * Default `to.kekMatchers()`; a keyring that cannot name its keys (a KMS alias) needs this.
   */
  readonly targetKeks?: readonly KekMatcher[];
  /**
   * `rewrap` (default): the data key is re-wrapped, the data bytes stay untouched (a metadata-only
   * copy). `reencrypt`: the object is rewritten with a fresh data key, for a data key that itself
   * must be replaced; objects modified at or after `rewrittenSince` count as done.
   */
  readonly mode?: 'rewrap' | 'reencrypt';
  /**
   * `reencrypt`: objects last modified at or after this time (to the second, as stores keep it)
   * already have a fresh data key. Pass the first run's start time to every resumed run.
   */
  readonly rewrittenSince?: Date;
  /** Objects without an s3crypt envelope are encrypted in place under `to` (a migration). Default false: they are skipped. */
  readonly migratePlaintext?: boolean;
  /**
   * Objects written by the AWS S3 Encryption Client are rewritten in s3crypt's format under `to`
   * (method `convert`): read, authenticated and decrypted through the client (which needs its `s3ec`
   * option), written with a fresh data key, their instruction file removed. Default false: they are
   * skipped (`s3ec-object`). `fromKeks` does not select them (their KMS key is not named in them).
   */
  readonly convertS3ec?: boolean;
  /**
   * The reverse, for readers that speak only the S3 Encryption Client's format: s3crypt objects (and
   * plaintext ones with `migratePlaintext`) are rewritten as S3EC V3 objects under `to` (method
   * `convert`; `to` must wrap as S3EC does: an AWS KMS key, `S3ecAesKeyring` or `S3ecRsaKeyring`).
   * S3EC objects count as done. They lose what s3crypt's format gives (docs/INTEROP.md).
   */
  readonly toS3ec?: boolean;
  /** The caller encryption context the objects were written with, if any (fixed, or per object). */
  readonly encryptionContext?: EncryptionContext | ((object: RotationObject) => EncryptionContext | undefined);
  /** Report what would change, write nothing (and call no keyring). */
  readonly dryRun?: boolean;
  /** Objects stored larger than this are copied part by part (UploadPartCopy). Default 5 GiB, S3's CopyObject limit. */
  readonly multipartCopyThreshold?: number;
  /** Aborts the work (and the requests) in progress. */
  readonly signal?: AbortSignal;
}

/**
 * One object of a rotation.
 *
 * @example
 * ```ts
 * const object: RotationObject = { bucket: 'b', key: 'reports/2026.csv' };
 * ```
 */
export interface RotationObject {
  readonly bucket: string;
  readonly key: string;
  /** A specific version (S3 Batch Operations manifests carry one): rotated only if it is the current version. */
  readonly versionId?: string | undefined;
}

/** A KEK as envelopes name it. */
export interface KekName {
  readonly providerId: string;
  readonly keyId: string;
}

/** Why an object was left alone. */
export type RotationSkipReason = 'already-rotated' | 'not-selected' | 'not-encrypted' | 'noncurrent-version' | 'not-found' | 's3ec-object';

/**
 * What happened to one object.
 *
 * @example
 * ```ts
 * const result: ObjectRotation = await rotateObject(client, { bucket, key }, { to: newKeyring });
 * if (result.outcome === 'failed') console.error(result.reason.code, result.reason.message);
 * ```
 */
export type ObjectRotation =
  | (RotationObject & { readonly outcome: 'rotated' | 'would-rotate'; readonly method: 'rewrap' | 'reencrypt' | 'migrate' | 'convert'; readonly from: readonly KekName[]; readonly to?: readonly KekName[]; readonly objectId?: string | undefined; readonly newVersionId?: string | undefined })
  | (RotationObject & { readonly outcome: 'skipped'; readonly reason: RotationSkipReason })
  | (RotationObject & { readonly outcome: 'failed'; readonly reason: FailureReason });

function namesOf(edks: readonly EncryptedDataKey[]): KekName[] {
  return edks.map(({ providerId, keyId }) => ({ providerId, keyId }));
}

function holds(filter: Readonly<Record<string, string>> | ((values: Readonly<Record<string, string>>) => boolean), values: Readonly<Record<string, string>>): boolean {
  return typeof filter === 'function' ? filter(values) : Object.entries(filter).every(([name, value]) => values[name] === value);
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.name === 'NoSuchVersion' || e?.$metadata?.httpStatusCode === 404;
}

/** The option checks of {@link rotateObject} (the engine runs them once per run); the target KEKs. */
export function checkRotateObjectOptions(options: RotateObjectOptions, where: string): readonly KekMatcher[] {
  if (!options || typeof options.to?.onEncrypt !== 'function') throw new TypeError(`${where}: options.to must be a Keyring`);
  const targetKeks = options.targetKeks ?? options.to.kekMatchers?.();
  if (!targetKeks || targetKeks.length === 0) throw new TypeError(`${where}: the target keyring cannot name its KEKs; pass options.targetKeks`);
  if (options.mode !== undefined && options.mode !== 'rewrap' && options.mode !== 'reencrypt') throw new TypeError(`${where}: options.mode must be 'rewrap' or 'reencrypt'`);
  const threshold = options.multipartCopyThreshold;
  if (threshold !== undefined && (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > MAX_COPY_OBJECT_LENGTH)) {
    throw new TypeError(`${where}: options.multipartCopyThreshold must be an integer from 1 to ${MAX_COPY_OBJECT_LENGTH}`);
  }
  return targetKeks;
}

/** What an object without an s3crypt envelope is to the S3 Encryption Client's format, if anything. */
type StoredS3ec = 'object' | 'instruction-file' | undefined;

async function storedS3ec(ctx: HandlerContext, object: RotationObject, head: HeadObjectCommandOutput, options: SendOptions): Promise<StoredS3ec> {
  if (parseS3ecMetadata(head.Metadata)?.kind === 'instruction-file') return 'instruction-file';
  // With the client's s3ec option this finds objects whose metadata is all in an instruction file, as reads do.
  return (await storedAsS3ec(ctx, { Bucket: object.bucket, Key: object.key }, head.Metadata, options)) ? 'object' : undefined;
}

/** Where a HEAD leaves the object: skipped (and why), or to be rotated by `method`. */
async function decide(
  object: RotationObject,
  source: CopySourceObject,
  s3ecOf: () => Promise<StoredS3ec>,
  options: RotateObjectOptions,
  targetKeks: readonly KekMatcher[],
): Promise<{ skip: RotationSkipReason } | { method: 'rewrap' | 'reencrypt' | 'migrate' | 'convert'; envelope?: Envelope }> {
  const { head } = source;
  const tagged = async () => !options.tags || holds(options.tags, Object.fromEntries(new URLSearchParams((await source.tagging()) ?? '')));
  if (object.versionId !== undefined && head.VersionId !== object.versionId) return { skip: 'noncurrent-version' };
  if (options.modifiedBefore && !(head.LastModified && head.LastModified < options.modifiedBefore)) return { skip: 'not-selected' };
  if (options.metadata && !holds(options.metadata, withoutEnvelope(head.Metadata) ?? {})) return { skip: 'not-selected' };
  const value = findEnvelope(head.Metadata);
  const envelope = value === undefined ? undefined : parseEnvelope(value);
  // Asked only here, after the cheap skips: it may cost a HEAD (the instruction-file probe).
  const s3ec = envelope ? undefined : await s3ecOf();
  // An instruction file belongs to its S3EC object: it is never data to encrypt or convert.
  if (s3ec === 'instruction-file') return { skip: 's3ec-object' };
  if (options.toS3ec) {
    if (s3ec === 'object') return { skip: 'already-rotated' };
    if (!envelope && !options.migratePlaintext) return { skip: 'not-encrypted' };
    if (!(await tagged())) return { skip: 'not-selected' };
    return envelope ? { method: 'convert', envelope } : { method: 'migrate' };
  }
  // An S3 Encryption Client object is encrypted: never "plaintext" to migrate, only converted on request.
  if (s3ec === 'object') {
    if (!options.convertS3ec) return { skip: 's3ec-object' };
    if (!(await tagged())) return { skip: 'not-selected' };
    return { method: 'convert' };
  }
  if (!envelope && !options.migratePlaintext) return { skip: 'not-encrypted' };
  if (envelope && options.fromKeks && !envelope.encryptedDataKeys.some((edk) => options.fromKeks!.some((m) => matches(m, edk)))) return { skip: 'not-selected' };
  if (envelope && options.mode !== 'reencrypt' && envelope.encryptedDataKeys.every((edk) => underTarget(options.to, targetKeks, edk))) return { skip: 'already-rotated' };
  if (envelope && options.mode === 'reencrypt' && options.rewrittenSince && head.LastModified && head.LastModified.getTime() >= wholeSecond(options.rewrittenSince)) return { skip: 'already-rotated' };
  if (!(await tagged())) return { skip: 'not-selected' };
  if (!envelope) return { method: 'migrate' };
  return { method: options.mode === 'reencrypt' ? 'reencrypt' : 'rewrap', envelope };
}

/** Stores report LastModified in whole seconds: an object rewritten in the run's first second still counts. */
function wholeSecond(time: Date): number {
  return Math.floor(time.getTime() / 1000) * 1000;
}

/**
 * Whether `edk` is wrapped by the target. Matchers cannot tell customer keys apart (each object names
 * its key by a salted fingerprint): a customer-key target recognizes its own fingerprints instead.
 */
function underTarget(to: Keyring, targetKeks: readonly KekMatcher[], edk: EncryptedDataKey): boolean {
  if (to instanceof CustomerKeyring) return edk.providerId === CUSTOMER_KEY_PROVIDER_ID && to.recognizes(edk.keyId);
  return targetKeks.some((matcher) => matches(matcher, edk));
}

function contextOf(options: RotateObjectOptions, object: RotationObject): EncryptionContext | undefined {
  return typeof options.encryptionContext === 'function' ? options.encryptionContext(object) : options.encryptionContext;
}

/** Re-wraps the data key of the object `source` describes under `to`, by a metadata-only copy onto itself. */
async function rewrap(ctx: HandlerContext, source: CopySourceObject, options: RotateObjectOptions, sendOptions: SendOptions) {
  const callerContext = contextOf(options, source);
  // The whole envelope, the trailer and any signature authenticate before anything is written.
  const opened = await openObject(ctx, { Bucket: source.bucket, Key: source.key, VersionId: source.head.VersionId, IfMatch: source.head.ETag }, sendOptions, callerContext ? { encryptionContext: callerContext } : {});
  if (!opened.encrypted) throw new TypeError('unreachable: an object with an envelope opened as plaintext');
  try {
    const version = opened.envelope.version;
    const context = objectEncryptionContext(source.bucket, source.key, version, version === FORMAT_VERSION_1 ? {} : callerContext);
    const { encryptedDataKeys } = await wrapDataKey(options.to, context, opened.dataKey, options.signal, ctx.audit, true);
    const envelope = rewrappedEnvelope(opened.keys, opened.envelope, encryptedDataKeys, context);
    const Metadata = metadataWithEnvelope(withoutEnvelope(source.head.Metadata), envelope);
    const written = await copyInPlace(ctx, source, Metadata, opened.layout, options.multipartCopyThreshold ?? MAX_COPY_OBJECT_LENGTH, sendOptions);
    // The identity covers the content and location, not the wrapped keys: it survives the re-wrap.
    return { ...written, objectId: opened.identity(), to: namesOf(encryptedDataKeys) };
  } finally {
    opened.dataKey.fill(0);
  }
}

async function rotateSelected(ctx: HandlerContext, object: RotationObject, options: RotateObjectOptions, targetKeks: readonly KekMatcher[]): Promise<ObjectRotation> {
  const sendOptions: SendOptions = options.signal ? { abortSignal: options.signal } : undefined;
  const where = { bucket: object.bucket, key: object.key, ...(object.versionId !== undefined ? { versionId: object.versionId } : {}) };
  let head: HeadObjectCommandOutput;
  try {
    head = await ctx.inner.send(new HeadObjectCommand({ Bucket: object.bucket, Key: object.key }), sendOptions);
  } catch (error) {
    if (isNotFound(error)) return { ...where, outcome: 'skipped', reason: 'not-found' };
    throw error;
  }
  const source = copySource(ctx, object.bucket, object.key, head, sendOptions);
  const decision = await decide(object, source, () => storedS3ec(ctx, object, head, sendOptions), options, targetKeks);
  if ('skip' in decision) return { ...where, outcome: 'skipped', reason: decision.skip };
  const from = namesOf(decision.envelope?.encryptedDataKeys ?? []);
  if (options.dryRun) return { ...where, outcome: 'would-rotate', method: decision.method, from };
  try {
    if (decision.method === 'rewrap') {
      const { VersionId, objectId, to } = await rewrap(ctx, source, options, sendOptions);
      return { ...where, outcome: 'rotated', method: 'rewrap', from, to, objectId, newVersionId: VersionId };
    }
    const kind = decision.method === 'migrate' ? 'plaintext' : decision.method === 'convert' && !options.toS3ec ? 's3ec' : 's3crypt';
    const { VersionId, objectId } = await rewriteInPlace(ctx, source, kind, options.to, contextOf(options, object), sendOptions, options.toS3ec === true);
    return { ...where, outcome: 'rotated', method: decision.method, from, objectId, newVersionId: VersionId };
  } catch (error) {
    throw changedMeanwhile(error, `s3://${object.bucket}/${object.key}`);
  }
}

/**
 * Rotates one object: re-wraps its data key under `options.to` with a metadata-only copy onto the same
 * key (data bytes untouched, header re-authenticated, metadata, content headers, tags and storage
 * class kept), guarded by the ETag it read. Objects already under the target KEKs, outside the
 * selection, or without an envelope (unless `migratePlaintext`) are skipped. Never throws for a
 * per-object failure: it is reported with a typed reason. The client's keyring and key policy unwrap.
 *
 * @example
 * ```ts
 * const reader = new EncryptingS3Client({ client: s3, keyring: new MultiKeyring({ generator: newKeyring, children: [oldKeyring] }) });
 * const result = await rotateObject(reader, { bucket: 'b', key: 'k' }, { to: newKeyring });
 * // result.outcome: 'rotated' | 'skipped' | 'failed'
 * ```
 */
export async function rotateObject(client: EncryptingS3Client, object: RotationObject, options: RotateObjectOptions): Promise<ObjectRotation> {
  return rotateToTargets(client, object, options, checkRotateObjectOptions(options, 'rotateObject'));
}

/** {@link rotateObject} with its options already checked and `targetKeks` resolved (the engine does that once per run). */
export async function rotateToTargets(client: EncryptingS3Client, object: RotationObject, options: RotateObjectOptions, targetKeks: readonly KekMatcher[]): Promise<ObjectRotation> {
  if (typeof object?.bucket !== 'string' || object.bucket === '' || typeof object.key !== 'string' || object.key === '') {
    throw new TypeError('rotateObject: object must be { bucket, key, versionId? }');
  }
  const { ctx, completing } = operationContext(client, 'RotateObject', 'rotateObject');
  try {
    return await completing(rotateSelected(ctx, object, options, targetKeks), { Bucket: object.bucket, Key: object.key });
  } catch (error) {
    if (options.signal?.aborted && error === options.signal.reason) throw error;
    const reason = failureReason(namingObject(error, object));
    return { bucket: object.bucket, key: object.key, ...(object.versionId !== undefined ? { versionId: object.versionId } : {}), outcome: 'failed', reason };
  }
}
