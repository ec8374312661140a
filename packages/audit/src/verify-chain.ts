// The verifier's core: walks the records of every segment in order and names the first broken
// record and why. See docs/AUDIT.md, "Verifying", for the rules this implements.
import type { KeyObject } from 'node:crypto';
import { checkpointAlgorithm, checkpointKeyFingerprint, checkpointSignatureValid } from './checkpoint-key.js';
import {
  checkpointSignedBytes,
  GENESIS_HASH,
  isCheckpoint,
  isSegmentHeader,
  lineHash,
  lineText,
  parseRecord,
  splitLines,
  type CheckpointRecord,
  type LogRecord,
} from './record.js';

/**
 * What is wrong at a position of the log.
 *
 * - `edited`: a record's bytes changed (it is malformed, or its successor does not commit to it).
 * - `deleted`: records are missing (the sequence jumps, or a segment's header is gone).
 * - `inserted`: a record that is not part of the chain (a duplicate sequence number, or one its
 *   successor does not commit to while the record after it does).
 * - `reordered`: records or segment files are out of order, or a segment file is not under its own name.
 * - `truncated-after-checkpoint`: records follow the last valid checkpoint; nothing proves that the
 *   log did not go on after them (reported unless `allowUnsealedTail`).
 * - `bad-checkpoint-signature`: a checkpoint's signature fails, or it is signed by another key.
 * - `gap-between-files`: a segment names a previous segment other than the file before it.
 * - `torn-tail`: a segment ends with an incomplete line (a crash mid-write) that no later segment
 *   acknowledges, or the log's newest segment ends so.
 *
 * @example
 * ```ts
 * const kinds: AuditProblemKind[] = report.problems.map((problem) => problem.kind);
 * ```
 */
export type AuditProblemKind =
  | 'edited'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated-after-checkpoint'
  | 'bad-checkpoint-signature'
  | 'gap-between-files'
  | 'torn-tail';

/**
 * One problem: where (segment file, 1-based line, the record's sequence number when it has one) and why.
 *
 * @example
 * ```ts
 * for (const p of report.problems) console.error(`${p.file}:${p.line} seq ${p.seq ?? '?'}: ${p.kind}: ${p.detail}`);
 * ```
 */
export interface AuditProblem {
  readonly file: string;
  readonly line: number;
  readonly seq?: number;
  readonly kind: AuditProblemKind;
  readonly detail: string;
}

/**
 * A checkpoint whose signature verified, and where it is.
 *
 * @example
 * ```ts
 * if (report.lastCheckpoint) console.log(`${report.lastCheckpoint.records} records signed at ${report.lastCheckpoint.time}`);
 * ```
 */
export interface VerifiedCheckpoint {
  readonly file: string;
  readonly line: number;
  readonly seq: number;
  /** Records it covers (all before it): `seq - 1`. */
  readonly records: number;
  /** The chain head it signs: the hash of the record before it. */
  readonly head: string;
  readonly time: string;
}

/**
 * The verifier's report. `ok` is true when there is no problem.
 *
 * @example
 * ```ts
 * if (!report.ok) throw new Error(`audit log broken at ${report.problems[0]!.file}:${report.problems[0]!.line}`);
 * ```
 */
export interface AuditLogReport {
  readonly ok: boolean;
  /** Complete records read (segment headers, events and checkpoints). */
  readonly records: number;
  readonly events: number;
  /** Checkpoints whose signature verified. */
  readonly checkpoints: number;
  readonly lastCheckpoint?: VerifiedCheckpoint;
  /** Records no valid checkpoint covers (after the last one): their number and sequence range. */
  readonly unprovable?: { readonly fromSeq: number; readonly toSeq: number; readonly records: number };
  /** Torn tails that the next segment's header acknowledges (crashes the writer recovered from). */
  readonly recoveredTornTails: readonly { readonly file: string; readonly line: number; readonly bytes: number }[];
  /** In log order; the first is the first broken record. Later ones may be consequences of earlier ones. */
  readonly problems: readonly AuditProblem[];
}

export interface Segment {
  readonly name: string;
  readonly bytes: Uint8Array;
}

interface Line {
  readonly file: string;
  readonly line: number;
  readonly hash: string;
  readonly record: LogRecord | undefined;
  readonly malformed?: string;
}

interface Torn {
  readonly file: string;
  readonly line: number;
  readonly bytes: number;
  readonly sha256: string;
}

function readLines(segments: readonly Segment[]): { lines: Line[]; firstLine: Map<string, number>; torn: Map<string, Torn> } {
  const lines: Line[] = [];
  const firstLine = new Map<string, number>();
  const torn = new Map<string, Torn>();
  for (const segment of segments) {
    const split = splitLines(segment.bytes);
    firstLine.set(segment.name, lines.length);
    split.lines.forEach((bytes, index) => {
      const text = lineText(bytes);
      const parsed = text === undefined ? 'not UTF-8' : parseRecord(text);
      const base = { file: segment.name, line: index + 1, hash: lineHash(bytes) };
      lines.push(typeof parsed === 'string' ? { ...base, record: undefined, malformed: parsed } : { ...base, record: parsed });
    });
    if (split.torn.length > 0 || split.lines.length === 0) {
      torn.set(segment.name, { file: segment.name, line: split.lines.length + 1, bytes: split.torn.length, sha256: lineHash(split.torn) });
    }
  }
  return { lines, firstLine, torn };
}

export function verifyChain(segments: readonly Segment[], publicKey: KeyObject, options: { allowUnsealedTail?: boolean } = {}): AuditLogReport {
  const { lines, firstLine, torn } = readLines(segments);
  const problems: AuditProblem[] = [];
  const problemLines = new Set<string>();
  const report = (at: { file: string; line: number }, kind: AuditProblemKind, detail: string, seq?: number) => {
    const key = `${at.file}\n${at.line}`;
    if (problemLines.has(key)) return;
    problemLines.add(key);
    problems.push({ file: at.file, line: at.line, ...(seq === undefined ? {} : { seq }), kind, detail });
  };
  const where = (line: Line) => `${line.file} line ${line.line}`;
  const seqAt = (index: number) => lines[index]?.record?.seq;
  const seenSeqs = new Set<number>();
  const laterHasSeq = (index: number, from: number, to: number) => lines.slice(index + 1).some((line) => line.record && line.record.seq >= from && line.record.seq < to);
  const fingerprint = checkpointKeyFingerprint(publicKey);
  const algorithm = checkpointAlgorithm(publicKey);

  const recoveredTornTails: { file: string; line: number; bytes: number }[] = [];
  let expectedSeq = 1;
  let expectedPrev = GENESIS_HASH;
  let previousCheckpoint: string | null = null;
  let lastCheckpoint: VerifiedCheckpoint | undefined;
  let checkpoints = 0;
  let events = 0;
  let reorderedUpTo = 0;

  const checkpointValid = (line: Line, record: CheckpointRecord): boolean => {
    const { checkpoint } = record;
    if (checkpoint.key !== fingerprint || checkpoint.alg !== algorithm) {
      report(line, 'bad-checkpoint-signature', 'the checkpoint is signed by another key than the public key given', record.seq);
      return false;
    }
    if (!checkpointSignatureValid(publicKey, checkpointSignedBytes(record), record.sig)) {
      report(line, 'bad-checkpoint-signature', 'the checkpoint signature does not verify: the checkpoint or the chain head it signs was altered', record.seq);
      return false;
    }
    return true;
  };
  /** Evidence that line `index` is intact: its successor commits to it, or it is a checkpoint whose signature holds. */
  const intact = (index: number): boolean => {
    const line = lines[index]!;
    const next = lines[index + 1];
    if (next?.record && next.record.prev === line.hash) return true;
    const record = line.record;
    return record !== undefined && isCheckpoint(record) && record.checkpoint.key === fingerprint && checkpointSignatureValid(publicKey, checkpointSignedBytes(record), record.sig);
  };

  segments.forEach((segment, segmentIndex) => {
    const first = firstLine.get(segment.name)!;
    const header = lines[first];
    const previousName = segmentIndex > 0 ? segments[segmentIndex - 1]!.name : null;
    const previousTorn = previousName === null ? undefined : torn.get(previousName);
    if (header?.file !== segment.name) return;
    const record = header.record;
    if (!record) return;
    if (!isSegmentHeader(record)) {
      report(header, 'deleted', `the segment does not start with its header: records before seq ${record.seq} are missing`, record.seq);
      return;
    }
    if (record.segment.name !== segment.name) {
      report(header, 'reordered', 'the segment file holds another segment (its header names a different file)', record.seq);
    } else if (record.segment.previous !== previousName) {
      const laterIndex = record.segment.previous === null ? -1 : segments.findIndex((other) => other.name === record.segment.previous);
      if (laterIndex > segmentIndex) report(header, 'reordered', 'the segment comes before the segment its header says it follows', record.seq);
      else if (previousName === null) report(header, 'gap-between-files', 'the first segment given is not the log\'s first: its header names a previous segment that is missing', record.seq);
      else if (record.segment.previous === null) report(header, 'gap-between-files', `the segment's header says it starts a log, but it follows ${previousName}`, record.seq);
      else report(header, 'gap-between-files', `the segment's header names a previous segment that is missing (the file before it is ${previousName})`, record.seq);
    }
    const acknowledged = record.segment.torn;
    if (previousTorn && acknowledged && acknowledged.bytes === previousTorn.bytes && acknowledged.sha256 === previousTorn.sha256) {
      recoveredTornTails.push({ file: previousTorn.file, line: previousTorn.line, bytes: previousTorn.bytes });
    } else if (previousTorn) {
      report(previousTorn, 'torn-tail', `the segment ends with ${previousTorn.bytes} bytes of an incomplete record that the next segment does not acknowledge`);
    } else if (acknowledged) {
      report(header, 'edited', 'the segment header acknowledges a torn tail in the previous segment, which ends with a complete record instead', record.seq);
    }
  });

  lines.forEach((line, index) => {
    const record = line.record;
    if (!record) {
      report(line, 'edited', `the line is not a valid record (${line.malformed ?? 'malformed'})`);
      expectedPrev = line.hash;
      expectedSeq += 1;
      return;
    }
    if (record.seq === expectedSeq && record.prev === expectedPrev) {
      const next = lines[index + 1];
      if (next?.record?.seq === record.seq && next.hash !== line.hash && next.record.prev === record.prev && lines[index + 2]?.record?.prev === next.hash) {
        report(line, 'inserted', `the record is not part of the chain: the record after the next one (${where(next)}) commits to the next one, which has the same seq`, record.seq);
        return;
      }
    } else if (record.seq === expectedSeq) {
      const next = lines[index + 1];
      if (next?.record?.seq === expectedSeq && next.record.prev === expectedPrev) {
        report(line, 'inserted', `the record is not part of the chain: the next record (${where(next)}) has the same seq and commits to the record before`, record.seq);
        return;
      }
      if (intact(index) && index > 0) {
        const before = lines[index - 1]!;
        report(before, 'edited', `the record does not match what the record after it (${where(line)}) commits to`, before.record?.seq);
      } else {
        report(line, 'edited', 'the record does not commit to the record before it (its prev differs)', record.seq);
      }
    } else if (record.prev === expectedPrev && !seenSeqs.has(record.seq)) {
      report(line, 'edited', `the record commits to the record before it but its seq is ${record.seq}, not ${expectedSeq}`, expectedSeq);
      seenSeqs.add(expectedSeq);
      expectedSeq += 1;
      expectedPrev = line.hash;
      return;
    } else if (seenSeqs.has(record.seq)) {
      if (record.seq > reorderedUpTo) report(line, 'inserted', `a record with seq ${record.seq} appeared already`, record.seq);
    } else if (record.seq > expectedSeq) {
      const missingSeen = Array.from({ length: record.seq - expectedSeq }, (_, k) => expectedSeq + k).every((seq) => seenSeqs.has(seq));
      if (missingSeen && record.seq <= reorderedUpTo + 1) {
        // The records it skips came earlier, out of order (already reported).
      } else if (laterHasSeq(index, expectedSeq, record.seq)) {
        report(line, 'reordered', `seq ${record.seq} comes where seq ${expectedSeq} was expected; seq ${expectedSeq} comes later`, record.seq);
        reorderedUpTo = Math.max(reorderedUpTo, record.seq);
      } else {
        const missing = record.seq - expectedSeq;
        report(line, 'deleted', `${missing} record${missing === 1 ? '' : 's'} (seq ${expectedSeq}${missing === 1 ? '' : `..${record.seq - 1}`}) missing before this one`, record.seq);
      }
    } else if (record.seq > reorderedUpTo) {
      report(line, 'reordered', `seq ${record.seq} comes after seq ${seqAt(index - 1) ?? '?'}`, record.seq);
    }
    seenSeqs.add(record.seq);
    if (isCheckpoint(record) && checkpointValid(line, record)) {
      if (record.checkpoint.previous !== previousCheckpoint) report(line, 'deleted', 'the checkpoint does not follow the previous checkpoint: a checkpoint is missing', record.seq);
      previousCheckpoint = line.hash;
      checkpoints += 1;
      lastCheckpoint = { file: line.file, line: line.line, seq: record.seq, records: record.seq - 1, head: record.prev, time: record.checkpoint.time };
    }
    if ('event' in record) events += 1;
    expectedSeq = Math.max(expectedSeq, record.seq + 1);
    expectedPrev = line.hash;
  });

  problems.sort((a, b) => position(a) - position(b));
  // What only the end of the log shows comes after the problems found in order.
  const lastName = segments.at(-1)?.name;
  const lastTorn = lastName === undefined ? undefined : torn.get(lastName);
  if (lastTorn) {
    report(lastTorn, 'torn-tail', `the log ends with ${lastTorn.bytes} bytes of an incomplete record (a crash mid-write); the records before it are accepted`);
  }
  const records = lines.filter((line) => line.record).length;
  const coveredSeq = lastCheckpoint?.seq ?? 0;
  const uncovered = lines.filter((line) => line.record && line.record.seq > coveredSeq);
  let unprovable: AuditLogReport['unprovable'];
  if (uncovered.length > 0) {
    const fromSeq = uncovered[0]!.record!.seq;
    const toSeq = uncovered.at(-1)!.record!.seq;
    unprovable = { fromSeq, toSeq, records: uncovered.length };
    if (!options.allowUnsealedTail) {
      report(
        uncovered[0]!,
        'truncated-after-checkpoint',
        `${uncovered.length} record${uncovered.length === 1 ? '' : 's'} (seq ${fromSeq}..${toSeq}) follow the last valid checkpoint${lastCheckpoint ? ` (seq ${lastCheckpoint.seq})` : ' (there is none)'}: no signature covers them, so whether records after seq ${toSeq} were removed cannot be proven`,
        fromSeq,
      );
    }
  }
  return {
    ok: problems.length === 0,
    records,
    events,
    checkpoints,
    ...(lastCheckpoint ? { lastCheckpoint } : {}),
    ...(unprovable ? { unprovable } : {}),
    recoveredTornTails,
    problems,
  };

  function position(problem: AuditProblem): number {
    const segmentIndex = segments.findIndex((segment) => segment.name === problem.file);
    return segmentIndex * 1e9 + problem.line;
  }
}
