// S3 Batch Operations manifests read locally: a CSV manifest (bucket, URL-encoded key, optional
// version id) or an S3 Inventory CSV file (the same first columns, every field quoted). Useful to
// replay a job's manifest through the handler, or to feed rotateKeys({ objects }) on one machine.
import { parse } from 'csv-parse/sync';
import type { RotationObject } from '@s3crypt/client';
import type { S3BatchEvent, S3BatchTask } from './schema.js';

/** A manifest's URL-encoded key ('+' is a space there, as in form encoding), or undefined if malformed. */
export function decodeManifestKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * The tasks of a CSV manifest, one per row, keys left URL-encoded as Batch Operations passes them.
 *
 * @example
 * ```ts
 * const tasks = tasksFromCsvManifest('my-bucket,reports/2026%20Q1.csv\nmy-bucket,logs/a.json,3HL4kqtJlcpXroDTDmJ');
 * ```
 */
export function tasksFromCsvManifest(csv: string): S3BatchTask[] {
  const rows = parse(csv, { relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][];
  return rows.map((row, index) => {
    const [s3Bucket, s3Key, s3VersionId] = row;
    if (!s3Bucket || s3Key === undefined || s3Key === '') throw new TypeError(`CSV manifest: row ${index + 1} needs a bucket and a key`);
    return { taskId: `task-${index + 1}`, s3Bucket, s3Key, s3VersionId: s3VersionId ? s3VersionId : null };
  });
}

/**
 * The objects of a CSV manifest with their keys decoded, for `rotateKeys({ objects })` (and the CLI's
 * `s3crypt rotate --manifest`). A row whose key is not valid URL encoding is a TypeError naming it.
 *
 * @example
 * ```ts
 * await rotateKeys(client, { bucket: 'my-bucket', objects: objectsFromCsvManifest(readFileSync('manifest.csv', 'utf8')), to });
 * ```
 */
export function objectsFromCsvManifest(csv: string): RotationObject[] {
  return tasksFromCsvManifest(csv).map((task, index) => {
    const key = decodeManifestKey(task.s3Key);
    if (key === undefined || key === '') throw new TypeError(`CSV manifest: row ${index + 1}'s key is not URL-encoded text`);
    return { bucket: task.s3Bucket as string, key, ...(task.s3VersionId ? { versionId: task.s3VersionId } : {}) };
  });
}

/**
 * The schema 2.0 event Batch Operations would send for `tasks` (it sends one task per invocation).
 *
 * @example
 * ```ts
 * for (const task of tasksFromCsvManifest(csv)) console.log(await handler(batchEvent([task])));
 * ```
 */
export function batchEvent(tasks: readonly S3BatchTask[], userArguments?: Readonly<Record<string, string>>): S3BatchEvent {
  return { invocationSchemaVersion: '2.0', invocationId: `local-${Date.now().toString(36)}`, job: { id: 'local', ...(userArguments ? { userArguments } : {}) }, tasks };
}
