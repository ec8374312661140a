// Key schedule of format versions 1 and 2. The data key (DEK) is never used directly: every part
// attempt gets its own AES key from HKDF, so nonces can be simple counters and never repeat across
// parts, retries of a part, or objects. Each version has its own HKDF labels, so nothing derived
// for one version is valid in the other.
import { createHmac, createSecretKey, hash, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { DecryptionError } from '../errors.js';
import { secretKey } from '../secret-key.js';
import { serializeContext } from '../keyrings/context.js';
import type { EncryptionContext } from '../keyrings/keyring.js';
import { COMMITMENT_LENGTH, FORMAT_VERSION_2, HEADER_TAG_LENGTH, KEY_LENGTH } from './constants.js';
import type { EnvelopeV2, SuiteParameters } from './envelope.js';

const LABELS = new Map<string, Buffer>();

/** The HKDF label of `name` in the params' format version (made once per version and name, never written to). */
function label(params: SuiteParameters, name: 'commit' | 'part' | 'header'): Buffer {
  const text = `s3crypt/v${params.version} ${name}`;
  let bytes = LABELS.get(text);
  if (!bytes) LABELS.set(text, (bytes = Buffer.from(text, 'ascii')));
  return bytes;
}

export function parameterBytes(params: SuiteParameters): Buffer {
  const bytes = Buffer.alloc(6);
  bytes.writeUInt8(params.version, 0);
  bytes.writeUInt8(params.suite, 1);
  bytes.writeUInt32BE(params.segmentSize, 2);
  return bytes;
}

const SHA256_LENGTH = 32;
const FIRST_BLOCK = Uint8Array.of(1);

/**
 * One object's key schedule. Every key of an object (its commitment, header key, part and trailer
 * keys) is HKDF-SHA256 of the data key with the object's message id as salt, so HKDF's extract step
 * gives the same PRK every time: it is done once here and the PRK kept as a KeyObject, and each key
 * then costs one HMAC (HKDF's expand, RFC 5869 §2.3; no key here is longer than one block). The
 * bytes are exactly those of a full HKDF. Like every KeyObject the PRK cannot be zeroed; it is freed
 * with the schedule, which lives as long as the one read or write that made it.
 *
 * @example
 * ```ts
 * const keys = new KeySchedule(dataKey, params.messageId);
 * const envelope = newEnvelope(keys, params, encryptedDataKeys, context);
 * ```
 */
export class KeySchedule {
  readonly #prk: KeyObject;
  readonly #messageId: Buffer;

  constructor(dataKey: Uint8Array, messageId: Uint8Array) {
    // HKDF-Extract: an empty salt means a block of zeros (RFC 5869 §2.2).
    const salt = createSecretKey(messageId.length > 0 ? messageId : new Uint8Array(SHA256_LENGTH));
    const prk = createHmac('sha256', salt).update(dataKey).digest();
    this.#prk = createSecretKey(prk);
    prk.fill(0);
    this.#messageId = Buffer.from(messageId);
  }

  /** HKDF-Expand of `info` to `length` (≤ 32) bytes; `messageId` must be the schedule's own. */
  derive(messageId: Uint8Array, info: Uint8Array, length: number): Buffer {
    if (!this.#messageId.equals(messageId)) throw new TypeError('this key schedule belongs to another object (message id)');
    if (length > SHA256_LENGTH) throw new RangeError(`a key schedule derives at most ${SHA256_LENGTH} bytes`);
    const block = createHmac('sha256', this.#prk).update(info).update(FIRST_BLOCK).digest();
    if (length === SHA256_LENGTH) return block;
    const key = Buffer.from(block.subarray(0, length));
    block.fill(0);
    return key;
  }
}

/** The data key: its bytes (one full HKDF per key), or the object's {@link KeySchedule}. */
export type DataKeyInput = Uint8Array | KeySchedule;

function hkdf(dataKey: DataKeyInput, messageId: Uint8Array, info: Buffer, length: number): Buffer {
  if (dataKey instanceof KeySchedule) return dataKey.derive(messageId, info, length);
  return Buffer.from(hkdfSync('sha256', secretKey(dataKey), messageId, info, length));
}

/** SHA-256 of the canonical encryption context (docs/FORMAT.md §9.2). */
export function contextDigest(context: EncryptionContext): Buffer {
  return hash('sha256', serializeContext(context), 'buffer');
}

/** The value stored in the envelope that commits the object to exactly one data key. */
export function deriveCommitment(dataKey: DataKeyInput, params: SuiteParameters): Buffer {
  return hkdf(dataKey, params.messageId, Buffer.concat([label(params, 'commit'), parameterBytes(params)]), COMMITMENT_LENGTH);
}

/** Constant-time check of a stored commitment against the one the unwrapped key derives. */
export function commitmentMatches(dataKey: DataKeyInput, params: SuiteParameters, stored: Uint8Array): boolean {
  const expected = deriveCommitment(dataKey, params);
  const ok = stored.length === expected.length && timingSafeEqual(expected, stored);
  expected.fill(0);
  return ok;
}

/** v2: HMAC over the header bytes, under a key bound to the object's encryption context. */
export function headerTag(dataKey: DataKeyInput, params: SuiteParameters, context: EncryptionContext, header: Uint8Array): Buffer {
  if (params.version !== FORMAT_VERSION_2) throw new TypeError('only format version 2 has a header tag');
  const key = hkdf(dataKey, params.messageId, Buffer.concat([label(params, 'header'), parameterBytes(params), contextDigest(context)]), KEY_LENGTH);
  try {
    return createHmac('sha256', secretKey(key)).update(header).digest();
  } finally {
    key.fill(0);
  }
}

/** Fails unless a v2 envelope's header is exactly what the holder of `dataKey` wrote for `context`. */
export function checkHeaderTag(dataKey: DataKeyInput, envelope: EnvelopeV2, context: EncryptionContext): void {
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
export function derivePartKey(dataKey: DataKeyInput, params: SuiteParameters, part: PartIdentity): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt8(part.kind, 0);
  tail.writeUInt32BE(part.partNumber, 1);
  const info = Buffer.concat([label(params, 'part'), parameterBytes(params), tail, part.salt]);
  return hkdf(dataKey, params.messageId, info, KEY_LENGTH);
}
