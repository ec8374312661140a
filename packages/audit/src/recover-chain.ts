// On open: where the chain stands, from the newest segment (local, else in the bucket). History is
// never rewritten: a torn tail stays where it is and the next segment's header records it.
import { AuditLogError } from './errors.js';
import { listSegmentObjects, readSegmentObject, type BucketLocation } from './bucket-segments.js';
import { listSegmentFiles, readSegmentFile } from './segment-directory.js';
import { GENESIS_HASH, isCheckpoint, lineHash, lineText, parseRecord, splitLines, type TornTail } from './record.js';

export interface ChainPosition {
  /** Sequence number of the last complete record (0 for a new log). */
  readonly seq: number;
  /** Hash of the last complete record's line. */
  readonly head: string;
  /** Hash of the newest checkpoint's line, or null. */
  readonly lastCheckpoint: string | null;
  /** Records after the newest checkpoint. */
  readonly sinceCheckpoint: number;
  /** The newest segment's name, or null for a new log. */
  readonly lastSegment: string | null;
  /** The newest segment's torn tail, if it has one. */
  readonly torn?: TornTail;
}

interface SegmentSource {
  names: string[];
  read(name: string): Promise<Buffer>;
}

async function segmentSource(directory: string, bucket: BucketLocation | undefined): Promise<SegmentSource> {
  const local = await listSegmentFiles(directory);
  const remote = bucket ? await listSegmentObjects(bucket) : [];
  const names = [...new Set([...local, ...remote])].sort();
  return { names, read: (name) => (local.includes(name) ? readSegmentFile(directory, name) : readSegmentObject(bucket!, name)) };
}

function corrupt(name: string, line: number, why: string): AuditLogError {
  return new AuditLogError('ERR_AUDIT_LOG_CORRUPT', `audit log segment ${name}, line ${line}: ${why}; refusing to continue its chain`);
}

export async function recoverChain(directory: string, bucket?: BucketLocation): Promise<ChainPosition> {
  const source = await segmentSource(directory, bucket);
  const lastSegment = source.names.at(-1) ?? null;
  let position: { seq: number; head: string } | undefined;
  let lastCheckpoint: string | null | undefined;
  let sinceCheckpoint = 0;
  let torn: TornTail | undefined;
  for (let index = source.names.length - 1; index >= 0 && lastCheckpoint === undefined; index--) {
    const name = source.names[index]!;
    const { lines, torn: tornBytes } = splitLines(await source.read(name));
    if (name === lastSegment && (tornBytes.length > 0 || lines.length === 0)) torn = { bytes: tornBytes.length, sha256: lineHash(tornBytes) };
    for (let at = lines.length - 1; at >= 0; at--) {
      const text = lineText(lines[at]!);
      const record = text === undefined ? 'not UTF-8' : parseRecord(text);
      if (typeof record === 'string') throw corrupt(name, at + 1, record);
      position ??= { seq: record.seq, head: lineHash(text!) };
      if (isCheckpoint(record)) {
        lastCheckpoint = lineHash(text!);
        break;
      }
      sinceCheckpoint++;
    }
  }
  return {
    seq: position?.seq ?? 0,
    head: position?.head ?? GENESIS_HASH,
    lastCheckpoint: lastCheckpoint ?? null,
    sinceCheckpoint,
    lastSegment,
    ...(torn ? { torn } : {}),
  };
}
