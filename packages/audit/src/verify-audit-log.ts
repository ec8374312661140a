// verifyAuditLog: gathers a log's segments (files, a directory, objects in a bucket) and verifies them
// offline with the operator's public key alone.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { publicKeyObject, type KeyInput } from './checkpoint-key.js';
import { listSegmentObjects, readSegmentObject, type BucketLocation } from './bucket-segments.js';
import { listSegmentFiles, readSegmentFile } from './segment-directory.js';
import { verifyChain, type AuditLogReport, type Segment } from './verify-chain.js';

/**
 * What to verify. Segments come from `directory` (segment files in it) and `s3` (objects under the
 * prefix, read through the encrypting client), merged in name order, then `files` (in the order given; a file's name is
 * its base name). A segment name present in more than one source must hold the same bytes in each.
 *
 * @example
 * ```ts
 * const options: VerifyAuditLogOptions = { directory: './audit', publicKey: readFileSync('audit-key.pub.pem', 'utf8') };
 * ```
 */
export interface VerifyAuditLogOptions {
  readonly files?: readonly string[];
  readonly directory?: string;
  readonly s3?: BucketLocation;
  /** The checkpoint public key (Ed25519 or ECDSA P-384), PEM or `KeyObject`. */
  readonly publicKey: KeyInput;
  /**
   * Verifying a log that is still being written: records after the last checkpoint are listed in
   * `unprovable` but not reported as `truncated-after-checkpoint`. Default false.
   */
  readonly allowUnsealedTail?: boolean;
}

/**
 * Verifies a tamper-evident audit log offline: every record's hash link, every segment's link to the
 * previous one, and every checkpoint's signature with `publicKey`. Reports the first broken record and
 * why (`problems[0]`), in file and line terms.
 *
 * @example
 * ```ts
 * const report = await verifyAuditLog({ directory: './audit', publicKey });
 * if (!report.ok) for (const p of report.problems) console.error(`${p.file}:${p.line}: ${p.kind}: ${p.detail}`);
 * ```
 */
export async function verifyAuditLog(options: VerifyAuditLogOptions): Promise<AuditLogReport> {
  const publicKey = publicKeyObject(options.publicKey);
  if (!options.files && !options.directory && !options.s3) throw new TypeError('verifyAuditLog needs files, a directory or an s3 location');
  const segments = new Map<string, Uint8Array>();
  const conflicts: string[] = [];
  const add = (name: string, bytes: Uint8Array) => {
    const existing = segments.get(name);
    if (existing && !Buffer.from(existing).equals(bytes)) conflicts.push(name);
    segments.set(name, existing ?? bytes);
  };
  // The directory first: a live log moves sealed segments from it to the bucket, so a segment listed
  // here but gone when read is in the bucket, which is listed afterwards.
  if (options.directory) {
    for (const name of await listSegmentFiles(options.directory)) {
      const bytes = await readSegmentFile(options.directory, name).catch((error: NodeJS.ErrnoException) => {
        if (options.s3 && error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (bytes) add(name, bytes);
    }
  }
  if (options.s3) for (const name of await listSegmentObjects(options.s3)) add(name, await readSegmentObject(options.s3, name));
  const ordered: Segment[] = [...segments].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, bytes]) => ({ name, bytes }));
  for (const file of options.files ?? []) ordered.push({ name: basename(file), bytes: await readFile(file) });
  const report = verifyChain(ordered, publicKey, options.allowUnsealedTail === undefined ? {} : { allowUnsealedTail: options.allowUnsealedTail });
  if (conflicts.length === 0) return report;
  const conflictProblems = conflicts.map((file) => ({ file, line: 1, kind: 'edited' as const, detail: 'the segment differs between the bucket and the local directory' }));
  return { ...report, ok: false, problems: [...conflictProblems, ...report.problems] };
}
