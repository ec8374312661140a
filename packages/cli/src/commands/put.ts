// `s3crypt put FILE|- s3://bucket/key`: encrypt and upload.
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { ExitCode, usageError } from '../exit-codes.js';
import { parseLocation, parseObjectLocation, s3Url } from '../locations.js';
import type { CommandRunner } from '../runner.js';
import { writeJson } from '../output.js';
import { localSize, upload, uploadFile } from '../transfers.js';
import { addUploadOptions, uploadSettings } from './transfer-options.js';

export function registerPut(program: Command, run: CommandRunner): void {
  addUploadOptions(
    program
      .command('put')
      .description('encrypt FILE (or stdin, "-") and upload it to s3://BUCKET/KEY; stdin streams with bounded memory (multipart)')
      .argument('<source>', 'a local file, or - for stdin')
      .argument('<destination>', 's3://BUCKET/KEY')
      .option('--json', "print the stored object's authenticated identity (objectId) as JSON, for a later --expect-id"),
  ).action(run(async ({ session, signal, progress, options }, source: string, destination: string) => {
    const from = parseLocation(source);
    const to = parseObjectLocation(destination, 'the destination');
    if (from.kind === 's3') throw usageError('put uploads a local file or stdin; to copy between buckets use `s3crypt cp`');
    const settings = uploadSettings(options);
    const reporter = progress();
    let info;
    try {
      if (from.kind === 'pipe') {
        info = await upload(session, session.io.stdin as Readable, to, settings, reporter.transfer(s3Url(to.bucket, to.key), undefined), signal);
      } else {
        const size = await localSize(from.path);
        if (size === undefined) throw Object.assign(new Error(`${from.path} is not a file`), { code: 'ENOENT' });
        info = await uploadFile(session, from.path, to, settings, reporter.transfer(from.path, size), signal);
      }
    } finally {
      reporter.stop();
    }
    if (options.json) writeJson(session.io.stdout, { bucket: to.bucket, key: to.key, ...info });
    return ExitCode.Success;
  }));
}
