// Key schedule of format versions 1 and 2. The data key (DEK) is never used directly: every part
// attempt gets its own AES key from HKDF, so nonces can be simple counters and never repeat across
// parts, retries of a part, or objects. Each version has its own HKDF labels, so nothing derived
// for one version is valid in the other.
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { DecryptionError } from '../errors.js';
import { secretKey } from '../secret-key.js';
import { serializeContext } from '../keyrings/context.js';
import type { EncryptionContext } from '../keyrings/keyring.js';
import { COMMITMENT_LENGTH, FORMAT_VERSION_2, HEADER_TAG_LENGTH, KEY_LENGTH } from './constants.js';
import type { EnvelopeV2, SuiteParameters } from './envelope.js';

function label(params: SuiteParameters, name: 'commit' | 'part' | 'header'): Buffer {
  return Buffer.from(`s3crypt/v${params.version} ${name}`, 'ascii');
}

export function parameterBytes(params: SuiteParameters): Buffer {
  const bytes = Buffer.alloc(6);
  bytes.writeUInt8(params.version, 0);
  bytes.writeUInt8(params.suite, 1);
  bytes.writeUInt32BE(params.segmentSize, 2);
  return bytes;
}

function hkdf(dataKey: Uint8Array, messageId: Uint8Array, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey(dataKey), messageId, info, length));
}

/** SHA-256 of the canonical encryption context (docs/FORMAT.md §9.2). */
export function contextDigest(context: EncryptionContext): Buffer {
  return createHash('sha256').update(serializeContext(context)).digest();
}

/** The value stored in the envelope that commits the object to exactly one data key. */
export function deriveCommitment(dataKey: Uint8Array, params: SuiteParameters): Buffer {
  return hkdf(dataKey, params.messageId, Buffer.concat([label(params, 'commit'), parameterBytes(params)]), COMMITMENT_LENGTH);
}

/** Constant-time check of a stored commitment against the one the unwrapped key derives. */
export function commitmentMatches(dataKey: Uint8Array, params: SuiteParameters, stored: Uint8Array): boolean {
  const expected = deriveCommitment(dataKey, params);
  const ok = stored.length === expected.length && timingSafeEqual(expected, stored);
  expected.fill(0);
  return ok;
}

/** v2: HMAC over the header bytes, under a key bound to the object's encryption context. */
export function headerTag(dataKey: Uint8Array, params: SuiteParameters, context: EncryptionContext, header: Uint8Array): Buffer {
  if (params.version !== FORMAT_VERSION_2) throw new TypeError('only format version 2 has a header tag');
  const key = hkdf(dataKey, params.messageId, Buffer.concat([label(params, 'header'), parameterBytes(params), contextDigest(context)]), KEY_LENGTH);
  try {
    return createHmac('sha256', secretKey(key)).update(header).digest();
  } finally {
    key.fill(0);
  }
}

/** Fails unless a v2 envelope's header is exactly what the holder of `dataKey` wrote for `context`. */
export function checkHeaderTag(dataKey: Uint8Array, envelope: EnvelopeV2, context: EncryptionContext): void {
  const expected = headerTag(dataKey, envelope, context, envelope.header);
  if (envelope.headerTag.length !== HEADER_TAG_LENGTH || !timingSafeEqual(expected, envelope.headerTag)) {
    throw new DecryptionError('ERR_HEADER_AUTH_FAILED', 'the s3crypt envelope failed authentication: it was altered, the object was moved, or the encryption context differs');
  }
}

/** Identifies one encrypted part (or the trailer) within an object. */
export interface PartIdentity {
  readonly kind: number;
  readonly partNumber: number;
  readonly salt: Uint8Array;
}

/** The AES-256-GCM key for one part attempt: unique per (object, kind, part number, salt). */
export function derivePartKey(dataKey: Uint8Array, params: SuiteParameters, part: PartIdentity): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt8(part.kind, 0);
  tail.writeUInt32BE(part.partNumber, 1);
  const info = Buffer.concat([label(params, 'part'), parameterBytes(params), tail, part.salt]);
  return hkdf(dataKey, params.messageId, info, KEY_LENGTH);
}
