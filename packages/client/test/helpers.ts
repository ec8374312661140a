// Builds and reads stored objects in memory with the same format functions and key seam the client
// uses against S3, so format properties can be tested exhaustively without a server.
import { randomBytes, type KeyObject } from 'node:crypto';
import { captureSink, recordSecret, recordingKeyring } from '../../../test/harness/audit-recording.js';
import { resolveAuditOptions } from '../src/audit/options.js';
import { AuditEmitter, type ReadAudit } from '../src/audit/scope.js';
import { ResolvedKeyPolicy, type KeyPolicy } from '../src/client/key-policy.js';
import { unwrapDataKey, wrapDataKey } from '../src/client/materials.js';
import { MESSAGE_ID_LENGTH } from '../src/format/constants.js';
import { findEnvelope, metadataWithEnvelope, parseEnvelope, type SuiteParameters } from '../src/format/envelope.js';
import { objectIdentity } from '../src/format/identity.js';
import { planRead } from '../src/format/layout.js';
import { dataPartKey, newDataPart, newEnvelope, newSuiteParameters, readLayout, sealObject, trailerLengthFromTail } from '../src/format/object.js';
import { openSegments } from '../src/format/open-stream.js';
import { sealPart } from '../src/format/segments.js';
import { signerIdOf } from '../src/format/signature.js';
import { sealTrailer, type TrailerEntry } from '../src/format/trailer.js';
import { objectEncryptionContext, type EncryptionContext, type Keyring } from '../src/keyrings/keyring.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';

export const BUCKET = 'vectors';

/** The key seam's audit events of these in-memory reads and writes go to the run's no-secrets check. */
const capture = captureSink();
const suiteAudit = capture ? new AuditEmitter(resolveAuditOptions({ sink: capture }), undefined) : undefined;
export const KEY = 'object';

export interface StoredObject {
  readonly metadata: Record<string, string>;
  readonly body: Buffer;
}

export function testKeyring(seed = 7): RawAesKeyring {
  recordSecret('raw AES master key', Buffer.alloc(32, seed));
  return new RawAesKeyring({ keyName: 'unit-test-key', masterKey: Buffer.alloc(32, seed) });
}

/** How an in-memory writer seals: format version (default 2), caller context, signing key. */
export interface WriteOptions {
  readonly version?: 1 | 2;
  readonly callerContext?: EncryptionContext;
  readonly signingKey?: KeyObject;
}

function writeParameters(segmentSize: number, options: WriteOptions): SuiteParameters {
  if (options.version === 1) return { version: 1, suite: 1, segmentSize, messageId: randomBytes(MESSAGE_ID_LENGTH) };
  return newSuiteParameters(segmentSize, options.signingKey ? signerIdOf(options.signingKey) : undefined);
}

/** Encrypts `plaintext` as a single PUT would store it. */
export async function putInMemory(keyring: Keyring, plaintext: Uint8Array, segmentSize: number, key = KEY, options: WriteOptions = {}): Promise<StoredObject> {
  const params = writeParameters(segmentSize, options);
  const context = objectEncryptionContext(BUCKET, key, params.version, options.callerContext);
  const { dataKey, encryptedDataKeys } = await wrapDataKey(recordingKeyring(keyring), context, undefined, undefined, suiteAudit?.scope('PutObject'));
  const metadata = metadataWithEnvelope({}, newEnvelope(dataKey, params, encryptedDataKeys, context));
  const body = sealObject(dataKey, params, plaintext, options.signingKey);
  dataKey.fill(0);
  return { metadata, body };
}

/** A multipart upload in memory: every attempt of every part is encrypted; `complete` picks attempts. */
export async function multipartInMemory(keyring: Keyring, segmentSize: number, key = KEY, options: WriteOptions = {}) {
  const params = writeParameters(segmentSize, options);
  const context = objectEncryptionContext(BUCKET, key, params.version, options.callerContext);
  const { dataKey, encryptedDataKeys } = await wrapDataKey(recordingKeyring(keyring), context, undefined, undefined, suiteAudit?.scope('PutObject'));
  const metadata = metadataWithEnvelope({}, newEnvelope(dataKey, params, encryptedDataKeys, context));
  return {
    metadata,
    uploadPart(partNumber: number, plaintext: Uint8Array): { entry: TrailerEntry; body: Buffer } {
      const { salt, key: partKey } = newDataPart(dataKey, params, partNumber);
      return { entry: { partNumber, length: plaintext.length, salt: Buffer.from(salt) }, body: sealPart(partKey, plaintext, segmentSize) };
    },
    complete(parts: readonly { entry: TrailerEntry; body: Buffer }[]): StoredObject {
      const trailer = sealTrailer(dataKey, params, parts.map((p) => p.entry), options.signingKey);
      return { metadata, body: Buffer.concat([...parts.map((p) => p.body), trailer]) };
    },
  };
}

/** How an in-memory reader reads: its key policy (default: the keyring's own KEKs), caller context. */
export interface ReadOptions {
  readonly policy?: KeyPolicy;
  readonly callerContext?: EncryptionContext;
  /** Receives the authenticated object identity. */
  readonly onObjectId?: (objectId: string) => void;
}

/** Reads a stored object exactly as the client does, optionally a plaintext range [start, end). */
export async function getInMemory(keyring: Keyring, stored: StoredObject, range?: { start: number; end: number }, key = KEY, options: ReadOptions = {}): Promise<Buffer> {
  const audit = suiteAudit?.scope('GetObject').read(BUCKET, key, undefined);
  try {
    return await readInMemory(keyring, stored, range, key, options, audit);
  } catch (error) {
    await audit?.failed(error);
    throw error;
  }
}

async function readInMemory(
  keyring: Keyring,
  stored: StoredObject,
  range: { start: number; end: number } | undefined,
  key: string,
  options: ReadOptions,
  audit: ReadAudit | undefined,
): Promise<Buffer> {
  const envelope = parseEnvelope(findEnvelope(stored.metadata) ?? '');
  const policy = new ResolvedKeyPolicy(options.policy, keyring);
  const context = objectEncryptionContext(BUCKET, key, envelope.version, options.callerContext);
  const { dataKey } = await unwrapDataKey(recordingKeyring(keyring), policy, envelope, context, 'the object', undefined, audit);
  try {
    const trailerLength = trailerLengthFromTail(stored.body, envelope);
    const { layout, trailer } = readLayout(dataKey, envelope, stored.body.subarray(stored.body.length - trailerLength), stored.body.length);
    policy.checkSignature(envelope, trailer, 'the object');
    const objectId = objectIdentity(envelope, trailer.tag, context);
    await audit?.authenticated(objectId);
    options.onObjectId?.(objectId);
    const plan = range ? planRead(layout, range.start, range.end) : planRead(layout, 0, layout.plaintextLength, true);
    const keys = new Map(plan.partIndexes.map((i) => [i, dataPartKey(dataKey, envelope, layout.parts[i]!)]));
    const chunks: Buffer[] = [];
    const source = (async function* () {
      yield stored.body.subarray(plan.cipherStart, plan.cipherEnd);
    })();
    for await (const chunk of openSegments(source, plan.segments(), (i) => keys.get(i)!)) chunks.push(chunk);
    return Buffer.concat(chunks);
  } finally {
    dataKey.fill(0);
  }
}

export function pattern(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}
