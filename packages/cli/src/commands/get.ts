// `s3crypt get s3://bucket/key FILE|-` and `s3crypt cat s3://bucket/key [--range a-b]`.
import { join } from 'node:path';
import type { Command } from 'commander';
import type { S3CryptRequestOptions } from '@s3crypt/client';
import { ExitCode, usageError } from '../exit-codes.js';
import { isDirectory } from '../local-files.js';
import { parseLocation, parseObjectLocation, s3Url } from '../locations.js';
import type { CommandRunner } from '../runner.js';
import { silentProgress } from '../progress.js';
import { downloadToFile, downloadToStream } from '../transfers.js';

/** `--expect-id` as a request option. */
export function expectation(options: Record<string, unknown>): S3CryptRequestOptions {
  return typeof options.expectId === 'string' ? { expectedObjectId: options.expectId } : {};
}

/** `a-b`, `a-` or `-n` as an HTTP Range. */
export function byteRange(text: string): string {
  if (!/^(\d+-\d*|-\d+)$/.test(text)) throw usageError(`--range takes FIRST-LAST, FIRST- or -SUFFIX in bytes (got ${JSON.stringify(text)})`);
  const [first, last] = text.split('-');
  // BigInt: past 2^53 two different positions can be the same Number.
  if (first && last && BigInt(last) < BigInt(first)) throw usageError(`--range ${text}: LAST is before FIRST`);
  return `bytes=${text}`;
}

export function registerGet(program: Command, run: CommandRunner): void {
  program
    .command('get')
    .description('download and decrypt s3://BUCKET/KEY to FILE (atomically: never a partial plaintext file) or to stdout ("-")')
    .argument('<source>', 's3://BUCKET/KEY')
    .argument('<destination>', 'a local file or directory, or - for stdout')
    .option('--expect-id <objectId>', 'refuse (exit 4) unless the object is this very write (its identity from put --json): detects a rolled-back or swapped object')
    .action(run(async ({ session, signal, progress, options }, source: string, destination: string) => {
      const request = expectation(options);
      const from = parseObjectLocation(source, 'the source');
      const to = parseLocation(destination);
      if (to.kind === 's3') throw usageError('get writes a local file or stdout; to copy between buckets use `s3crypt cp`');
      const reporter = progress();
      try {
        if (to.kind === 'pipe') await downloadToStream(session, from, session.io.stdout, (total) => reporter.transfer(s3Url(from.bucket, from.key), total), signal, undefined, request);
        else {
          const path = (await isDirectory(to.path)) ? join(to.path, from.key.split('/').pop() as string) : to.path;
          await downloadToFile(session, from, path, (total) => reporter.transfer(path, total), signal, request);
        }
      } finally {
        reporter.stop();
      }
      return ExitCode.Success;
    }));

  program
    .command('cat')
    .description('decrypt s3://BUCKET/KEY (or a byte range of it, authenticated) to stdout')
    .argument('<source>', 's3://BUCKET/KEY')
    .option('--range <first-last>', 'bytes FIRST to LAST inclusive (also FIRST- and -SUFFIX)')
    .option('--expect-id <objectId>', 'refuse (exit 4) unless the object is this very write (its identity from put --json)')
    .action(run(async ({ session, signal, options }, source: string) => {
      const from = parseObjectLocation(source, 'the source');
      const range = options.range === undefined ? undefined : byteRange(options.range as string);
      await downloadToStream(session, from, session.io.stdout, () => silentProgress.transfer('', undefined), signal, range, expectation(options));
      return ExitCode.Success;
    }));
}
