// `s3crypt ls s3://bucket[/prefix] [--recursive]`: like `aws s3 ls`, with each object's plaintext
// size, format and KEK as its envelope states them (read without keys; `verify` authenticates).
import { ListBucketsCommand, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { describeObject, type ObjectDescription } from '@s3crypt/client';
import { ExitCode } from '../exit-codes.js';
import { parsePrefixLocation } from '../locations.js';
import { displayText, humanBytes, writeJson } from '../output.js';
import type { CommandRunner } from '../runner.js';
import { formatLabel, kekLabel } from './inspect.js';
import { positiveInteger } from './transfer-options.js';

function timestamp(date: Date | undefined): string {
  return date ? date.toISOString().replace('T', ' ').slice(0, 19) : ''.padEnd(19);
}

/** Runs `describe` on up to `limit` items at once and yields the results in input order. */
async function* inOrder<T, R>(items: AsyncIterable<T>, limit: number, describe: (item: T) => Promise<R>): AsyncGenerator<R> {
  const window: Promise<R>[] = [];
  for await (const item of items) {
    const next = describe(item);
    next.catch(() => undefined); // observed when its turn comes
    window.push(next);
    if (window.length >= limit) yield await (window.shift() as Promise<R>);
  }
  while (window.length) yield await (window.shift() as Promise<R>);
}

export function registerLs(program: Command, run: CommandRunner): void {
  program
    .command('ls')
    .description('list objects with plaintext sizes, format (s3crypt v1/v2, S3EC v1/v2/v3, plaintext) and key-encryption key; without a location, list buckets')
    .argument('[location]', 's3://BUCKET[/PREFIX]')
    .option('-r, --recursive', 'everything under the prefix, not one level')
    .option('-H, --human-readable', 'sizes in KiB, MiB, … as `aws s3 ls` shows them')
    .option('--concurrency <n>', 'objects described at once (default 16)', positiveInteger)
    .option('--json', 'one JSON object per line')
    .action(run(async ({ session, signal, options }, location?: string) => {
      const out = session.io.stdout;
      if (location === undefined) {
        const { Buckets = [] } = await session.s3.send(new ListBucketsCommand({}), { abortSignal: signal });
        for (const bucket of Buckets) {
          if (options.json) writeJson(out, { bucket: bucket.Name, created: bucket.CreationDate });
          else out.write(`${timestamp(bucket.CreationDate)} ${displayText(bucket.Name ?? '')}\n`);
        }
        return ExitCode.Success;
      }
      const where = parsePrefixLocation(location, 'ls');
      const size = (bytes: number | undefined) => (bytes === undefined ? '?' : options.humanReadable ? humanBytes(bytes) : String(bytes));
      const prefixes: string[] = [];
      async function* entries() {
        const pages = paginateListObjectsV2({ client: session.s3, pageSize: 1000 }, { Bucket: where.bucket, ...(where.key ? { Prefix: where.key } : {}), ...(options.recursive ? {} : { Delimiter: '/' }) });
        for await (const page of pages) {
          for (const common of page.CommonPrefixes ?? []) if (common.Prefix) prefixes.push(common.Prefix);
          for (const entry of page.Contents ?? []) if (entry.Key) yield entry;
        }
      }
      const described = inOrder(entries(), (options.concurrency as number | undefined) ?? 16, async (entry) => {
        try {
          return { entry, description: await describeObject(session.s3, { Bucket: where.bucket, Key: entry.Key as string }, { signal, encryptionContext: session.encryptionContext }) };
        } catch (error) {
          return { entry, error: error as Error };
        }
      });
      let problems = 0;
      for await (const { entry, description, error } of described as AsyncIterable<{ entry: { Key?: string; Size?: number; LastModified?: Date }; description?: ObjectDescription; error?: Error }>) {
        const key = entry.Key as string;
        if (options.json) {
          writeJson(out, description ? { key, lastModified: entry.LastModified, size: description.plaintextLength, storedSize: entry.Size, format: description.format, formatVersion: 'formatVersion' in description ? description.formatVersion : undefined, keks: description.keks } : { key, lastModified: entry.LastModified, storedSize: entry.Size, error: (error as { code?: string }).code ?? error?.name });
          continue;
        }
        if (!description) problems++;
        const format = description ? formatLabel(description) : `unreadable (${(error as { code?: string }).code ?? error?.name})`;
        out.write(`${timestamp(entry.LastModified)} ${size(description?.plaintextLength).padStart(options.humanReadable ? 10 : 12)} ${format.padEnd(11)} ${description ? kekLabel(description) : '-'} ${displayText(key)}\n`);
      }
      for (const prefix of prefixes) {
        if (options.json) writeJson(out, { prefix });
        else out.write(`${''.padEnd(19)} ${'PRE'.padStart(options.humanReadable ? 10 : 12)} ${displayText(prefix)}\n`);
      }
      return problems > 0 ? ExitCode.PartialFailure : ExitCode.Success;
    }));
}
