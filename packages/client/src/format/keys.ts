// Key schedule of format version 1. The data key (DEK) is never used directly: every part attempt
// gets its own AES key from HKDF, so nonces can be simple counters and never repeat across parts,
// retries of a part, or objects.
import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { COMMITMENT_LENGTH, KEY_LENGTH } from './constants.js';
import type { SuiteParameters } from './envelope.js';

const COMMIT_LABEL = Buffer.from('s3crypt/v1 commit', 'ascii');
const PART_LABEL = Buffer.from('s3crypt/v1 part', 'ascii');

function parameterBytes(params: SuiteParameters): Buffer {
  const bytes = Buffer.alloc(6);
  bytes.writeUInt8(params.version, 0);
  bytes.writeUInt8(params.suite, 1);
  bytes.writeUInt32BE(params.segmentSize, 2);
  return bytes;
}

function hkdf(dataKey: Uint8Array, messageId: Uint8Array, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, messageId, info, length));
}

/** The value stored in the envelope that commits the object to exactly one data key. */
export function deriveCommitment(dataKey: Uint8Array, params: SuiteParameters): Buffer {
  return hkdf(dataKey, params.messageId, Buffer.concat([COMMIT_LABEL, parameterBytes(params)]), COMMITMENT_LENGTH);
}

/** Constant-time check of a stored commitment against the one the unwrapped key derives. */
export function commitmentMatches(dataKey: Uint8Array, params: SuiteParameters, stored: Uint8Array): boolean {
  const expected = deriveCommitment(dataKey, params);
  const ok = stored.length === expected.length && timingSafeEqual(expected, stored);
  expected.fill(0);
  return ok;
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
  const info = Buffer.concat([PART_LABEL, parameterBytes(params), tail, part.salt]);
  return hkdf(dataKey, params.messageId, info, KEY_LENGTH);
}
