// `s3crypt cp SRC DST [--recursive]`: local→S3 (encrypt), S3→local (decrypt), S3→S3 (authenticate the
// source, re-wrap for the destination); with --recursive, a folder or prefix, several files at once.
// A rerun after an interruption skips destinations that already exist with the source's size:
// downloads are atomic (temp + rename) and uploads complete or leave nothing, so an existing
// destination is a finished one.
import { mkdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { basename, dirname, join } from 'node:path';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { forEachObject } from '@s3crypt/client';
import { ExitCode, usageError } from '../exit-codes.js';
import { parseLocation, s3Url, type Location, type S3Location } from '../locations.js';
import { isDirectory } from '../local-files.js';
import { filesUnder, localPathFor } from '../local-paths.js';
import { displayText, writeJson } from '../output.js';
import type { ProgressReporter } from '../progress.js';
import type { CommandRunner } from '../runner.js';
import type { Session } from '../session.js';
import { copyBetweenBuckets, downloadToFile, downloadToStream, localSize, plaintextLengthOf, upload, uploadFile, type UploadSettings } from '../transfers.js';
import { addUploadOptions, positiveInteger, uploadSettings } from './transfer-options.js';

/** One file or object to copy. */
interface CopyTask {
  readonly from: Location;
  readonly to: Location;
  /** The source's (plaintext) size when known up front, for the bars and the skip check. */
  readonly size?: number | undefined;
  readonly name: string;
}

interface CopySummary {
  copied: number;
  skipped: number;
  failed: number;
  bytes: number;
  failures: { source: string; code: string; message: string }[];
}

function describe(location: Location): string {
  return location.kind === 's3' ? s3Url(location.bucket, location.key) : location.kind === 'local' ? location.path : '-';
}

/** The S3 object a task reads or writes (its source when both are in S3). */
function s3SideOf(task: CopyTask): { bucket: string; key: string } {
  const side = task.from.kind === 's3' ? task.from : (task.to as S3Location);
  return { bucket: side.bucket, key: side.key };
}

function s3Side(task: CopyTask): string {
  const { bucket, key } = s3SideOf(task);
  return `${bucket}/${key}`;
}

/** A prefix that names a "folder": '' for the whole bucket, else ending in '/'. */
function folderPrefix(key: string): string {
  return key === '' || key.endsWith('/') ? key : `${key}/`;
}

async function* objectsUnder(session: Session, location: S3Location): AsyncGenerator<{ key: string; size: number | undefined }> {
  const prefix = folderPrefix(location.key);
  for await (const page of paginateListObjectsV2({ client: session.s3, pageSize: 1000 }, { Bucket: location.bucket, ...(prefix ? { Prefix: prefix } : {}) })) {
    for (const entry of page.Contents ?? []) {
      // A zero-byte key ending in '/' is a console-made "folder" marker, not a file.
      if (entry.Key && !entry.Key.endsWith('/')) yield { key: entry.Key, size: undefined };
    }
  }
}

async function recursiveTasks(session: Session, from: Location, to: Location): Promise<CopyTask[]> {
  if (from.kind === 'local') {
    if (to.kind !== 's3') throw usageError('cp --recursive copies a folder to s3://BUCKET/PREFIX, a prefix to a folder, or a prefix to another prefix');
    const prefix = folderPrefix(to.key);
    const files = await filesUnder(from.path);
    return Promise.all(
      files.map(async (file) => {
        const path = join(from.path, file);
        return { from: { kind: 'local' as const, path }, to: { kind: 's3' as const, bucket: to.bucket, key: prefix + file }, size: await localSize(path), name: path };
      }),
    );
  }
  if (from.kind !== 's3' || to.kind === 'pipe') throw usageError('cp --recursive needs a folder or s3://BUCKET/PREFIX on both sides');
  const prefix = folderPrefix(from.key);
  const tasks: CopyTask[] = [];
  for await (const object of objectsUnder(session, from)) {
    const source = { kind: 's3' as const, bucket: from.bucket, key: object.key };
    const destination: Location = to.kind === 'local' ? { kind: 'local', path: localPathFor(to.path, prefix, object.key) } : { kind: 's3', bucket: to.bucket, key: folderPrefix(to.key) + object.key.slice(prefix.length) };
    tasks.push({ from: source, to: destination, name: s3Url(from.bucket, object.key) });
  }
  return tasks;
}

/** The destination of a single copy: a key ending in '/' or an existing folder takes the source's name. */
async function singleTask(from: Location, to: Location): Promise<CopyTask> {
  const name = from.kind === 's3' ? (from.key.split('/').pop() ?? '') : from.kind === 'local' ? basename(from.path) : '';
  if (to.kind === 's3' && (to.key === '' || to.key.endsWith('/'))) {
    if (!name) throw usageError('copying stdin needs a full destination key, s3://BUCKET/KEY');
    to = { ...to, key: to.key + name };
  }
  if (to.kind === 'local' && (await isDirectory(to.path))) to = { kind: 'local', path: localPathFor(to.path, '', name) };
  return { from, to, size: from.kind === 'local' ? await localSize(from.path) : undefined, name: describe(from) };
}

/** True when the destination already holds a finished copy (same size), so a rerun skips it. */
async function alreadyCopied(session: Session, task: CopyTask, signal: AbortSignal): Promise<boolean> {
  const sourceSize = task.size ?? (task.from.kind === 's3' ? await plaintextLengthOf(session, task.from, signal) : undefined);
  if (sourceSize === undefined) return false;
  const destinationSize = task.to.kind === 'local' ? await localSize(task.to.path) : task.to.kind === 's3' ? await plaintextLengthOf(session, task.to, signal) : undefined;
  return destinationSize === sourceSize;
}

async function copyOne(session: Session, task: CopyTask, settings: UploadSettings, reporter: ProgressReporter, signal: AbortSignal): Promise<void> {
  const { from, to } = task;
  if (from.kind === 's3' && to.kind === 's3') return copyBetweenBuckets(session, from, to, signal);
  if (to.kind === 's3') {
    const bar = reporter.transfer(task.name, task.size);
    try {
      if (from.kind === 'pipe') await upload(session, session.io.stdin as Readable, to, settings, bar, signal);
      else if (from.kind === 'local') await uploadFile(session, from.path, to, settings, bar, signal);
      return;
    } finally {
      bar.stop();
    }
  }
  if (from.kind === 's3') {
    if (to.kind === 'pipe') return downloadToStream(session, from, session.io.stdout, (total) => reporter.transfer(task.name, total), signal);
    if (to.kind === 'local') {
      await mkdir(dirname(to.path), { recursive: true });
      return downloadToFile(session, from, to.path, (total) => reporter.transfer(task.name, total), signal);
    }
  }
  throw usageError('cp copies between a local file (or -) and s3://BUCKET/KEY, or between two S3 locations; for local copies use cp(1)');
}

export function registerCp(program: Command, run: CommandRunner): void {
  addUploadOptions(
    program
      .command('cp')
      .description('copy local→S3 (encrypt), S3→local (decrypt) or S3→S3 (re-wrap for the destination); --recursive for folders and prefixes. A rerun skips destinations that already exist with the same size')
      .argument('<source>', 'a local file or folder, -, or s3://BUCKET/KEY[/]')
      .argument('<destination>', 'a local file or folder, -, or s3://BUCKET/KEY[/]')
      .option('-r, --recursive', 'copy every file under the folder, or every object under the prefix')
      .option('--concurrency <n>', 'files copied at once with --recursive (default 4)', positiveInteger)
      .option('--force', 'copy even when the destination already exists with the same size')
      .option('--json', 'print the summary as JSON'),
  ).action(run(async ({ session, signal, progress, options }, source: string, destination: string) => {
    const from = parseLocation(source);
    const to = parseLocation(destination);
    if (from.kind !== 's3' && to.kind !== 's3') throw usageError('cp needs an s3:// location on at least one side');
    const settings = uploadSettings(options);
    const reporter = progress();
    if (!options.recursive) {
      const task = await singleTask(from, to);
      try {
        if (!options.force && task.to.kind !== 'pipe' && task.from.kind !== 'pipe' && (await alreadyCopied(session, task, signal))) {
          if (!session.options.quiet) session.warn(`skipped ${displayText(describe(task.to))}: it already exists with the same size (--force copies anyway)`);
          return ExitCode.Success;
        }
        await copyOne(session, task, settings, reporter, signal);
      } finally {
        reporter.stop();
      }
      return ExitCode.Success;
    }
    const tasks = await recursiveTasks(session, from, to);
    const summary: CopySummary = { copied: 0, skipped: 0, failed: 0, bytes: 0, failures: [] };
    const knownBytes = tasks.reduce((sum, task) => sum + (task.size ?? 0), 0);
    const overall = reporter.overall(tasks.length, knownBytes);
    try {
      // The shared bulk engine (@s3crypt/client) runs the copies, `--concurrency` at a time; each task
      // is named by its S3 side, the engine's unit of work.
      const byObject = new Map(tasks.map((task) => [s3Side(task), task]));
      await forEachObject(session.s3, {
        bucket: (tasks[0] ? s3SideOf(tasks[0]).bucket : 'unused'),
        objects: tasks.map((task) => s3SideOf(task)),
        concurrency: (options.concurrency as number | undefined) ?? 4,
        signal,
        step: async (object) => {
          const task = byObject.get(`${object.bucket}/${object.key}`) as CopyTask;
          signal.throwIfAborted();
          try {
            if (!options.force && (await alreadyCopied(session, task, signal))) summary.skipped++;
            else {
              await copyOne(session, task, settings, reporter, signal);
              summary.copied++;
              summary.bytes += task.size ?? 0;
              overall.update(summary.bytes);
            }
          } catch (error) {
            if (signal.aborted) throw error;
            summary.failed++;
            const code = (error as { code?: unknown }).code;
            summary.failures.push({ source: task.name, code: typeof code === 'string' ? code : (error as Error).name, message: displayText((error as Error).message) });
            reporter.log(`failed: ${displayText(task.name)}: ${displayText((error as Error).message)}`);
          }
          overall.fileDone();
        },
      });
    } finally {
      overall.stop();
      reporter.stop();
    }
    if (options.json) writeJson(session.io.stdout, summary);
    else if (!session.options.quiet) {
      session.io.stderr.write(`copied ${summary.copied}, skipped ${summary.skipped} (already there), failed ${summary.failed}\n`);
      for (const failure of summary.failures) session.io.stderr.write(`  ${displayText(failure.source)}: ${failure.code}\n`);
    }
    if (summary.failed > 0) return ExitCode.PartialFailure;
    return ExitCode.Success;
  }));
}
