// The log's records and lines (docs/AUDIT.md, "The tamper-evident log"): parsing is strict, so that a
// line is accepted only in the one canonical text its hash was computed over.
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** Version of the log format (the `v` of every record). */
export const AUDIT_LOG_FORMAT = 1;

/** What the first record of a log commits to as its `prev`: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

const HEX_64 = /^[0-9a-f]{64}$/;
const SEGMENT_NAME = /^audit-(\d{16})-(\d{2})\.jsonl$/;

export type CheckpointAlgorithm = 'Ed25519' | 'ES384';

interface RecordBase {
  readonly v: typeof AUDIT_LOG_FORMAT;
  readonly seq: number;
  readonly prev: string;
}

export interface TornTail {
  readonly bytes: number;
  readonly sha256: string;
}

export interface SegmentRecord extends RecordBase {
  readonly segment: { readonly name: string; readonly previous: string | null; readonly torn?: TornTail };
}

export interface EventRecord extends RecordBase {
  readonly event: Readonly<Record<string, unknown>>;
}

export interface CheckpointBody {
  readonly alg: CheckpointAlgorithm;
  readonly key: string;
  readonly previous: string | null;
  readonly time: string;
}

export interface CheckpointRecord extends RecordBase {
  readonly checkpoint: CheckpointBody;
  readonly sig: string;
}

export type LogRecord = SegmentRecord | EventRecord | CheckpointRecord;

export function lineHash(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

export function segmentName(firstSeq: number, attempt: number): string {
  return `audit-${String(firstSeq).padStart(16, '0')}-${String(attempt).padStart(2, '0')}.jsonl`;
}

export function parseSegmentName(name: string): { firstSeq: number; attempt: number } | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match ? { firstSeq: Number(match[1]), attempt: Number(match[2]) } : undefined;
}

export function isSegmentName(name: string): boolean {
  return SEGMENT_NAME.test(name);
}

/** The bytes a checkpoint's signature covers: a domain label, then the record without `sig`. */
export function checkpointSignedBytes(record: Omit<CheckpointRecord, 'sig'>): Buffer {
  const { v, seq, prev, checkpoint } = record;
  return Buffer.from(`s3crypt-audit-checkpoint-v1\n${canonicalJson({ v, seq, prev, checkpoint })}`);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const hasExactly = (value: Record<string, unknown>, names: readonly string[], optional: readonly string[] = []) =>
  names.every((name) => Object.hasOwn(value, name)) && Object.keys(value).every((name) => names.includes(name) || optional.includes(name));
const isHex64 = (value: unknown): value is string => typeof value === 'string' && HEX_64.test(value);
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function segmentBodyOk(body: unknown): boolean {
  if (!isObject(body) || !hasExactly(body, ['name', 'previous'], ['torn'])) return false;
  if (typeof body.name !== 'string' || !isSegmentName(body.name)) return false;
  if (body.previous !== null && (typeof body.previous !== 'string' || !isSegmentName(body.previous))) return false;
  if (body.torn === undefined) return true;
  return isObject(body.torn) && hasExactly(body.torn, ['bytes', 'sha256']) && isCount(body.torn.bytes) && isHex64(body.torn.sha256);
}

function checkpointOk(record: Record<string, unknown>): boolean {
  const body = record.checkpoint;
  if (!isObject(body) || !hasExactly(body, ['alg', 'key', 'previous', 'time'])) return false;
  if (body.alg !== 'Ed25519' && body.alg !== 'ES384') return false;
  if (!isHex64(body.key) || (body.previous !== null && !isHex64(body.previous))) return false;
  if (typeof body.time !== 'string' || Number.isNaN(Date.parse(body.time))) return false;
  const sig = record.sig;
  return typeof sig === 'string' && sig.length > 0 && Buffer.from(sig, 'base64url').toString('base64url') === sig;
}

/**
 * Parses one line (without its newline). Returns why it is not a record when it is not: invalid
 * JSON, a field missing, extra or of the wrong type, or a text other than the canonical one.
 */
export function parseRecord(text: string): LogRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value)) return 'not a JSON object';
  if (value.v !== AUDIT_LOG_FORMAT) return 'not a version 1 record';
  if (!isCount(value.seq) || value.seq === 0) return 'seq is not a positive integer';
  if (!isHex64(value.prev)) return 'prev is not a SHA-256 in lowercase hex';
  const base = ['v', 'seq', 'prev'];
  if (hasExactly(value, [...base, 'event'])) {
    if (!isObject(value.event)) return 'event is not an object';
  } else if (hasExactly(value, [...base, 'segment'])) {
    if (!segmentBodyOk(value.segment)) return 'malformed segment header';
  } else if (hasExactly(value, [...base, 'checkpoint', 'sig'])) {
    if (!checkpointOk(value)) return 'malformed checkpoint';
  } else {
    return 'not an event, segment header or checkpoint';
  }
  if (canonicalJson(value) !== text) return 'not in canonical form';
  return value as unknown as LogRecord;
}

export function isCheckpoint(record: LogRecord): record is CheckpointRecord {
  return 'checkpoint' in record;
}

export function isSegmentHeader(record: LogRecord): record is SegmentRecord {
  return 'segment' in record;
}

/** A segment's bytes cut into complete lines (each ended by a newline) and the torn bytes after the last one. */
export function splitLines(bytes: Uint8Array): { lines: Buffer[]; torn: Buffer } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: Buffer[] = [];
  let start = 0;
  for (let end = buffer.indexOf(0x0a, start); end !== -1; end = buffer.indexOf(0x0a, start)) {
    lines.push(buffer.subarray(start, end));
    start = end + 1;
  }
  return { lines, torn: buffer.subarray(start) };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A line's text, or undefined when its bytes are not UTF-8. */
export function lineText(line: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(line);
  } catch {
    return undefined;
  }
}
