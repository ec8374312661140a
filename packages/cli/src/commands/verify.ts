// `s3crypt verify s3://bucket/key` or `s3crypt verify s3://bucket/prefix/ --recursive`: authenticate
// whole objects (envelope, key commitment, every segment, the trailer) without writing plaintext.
import type { Command } from 'commander';
import { verifyObject, verifyObjects } from '@s3crypt/client';
import { ExitCode, usageError } from '../exit-codes.js';
import { parsePrefixLocation } from '../locations.js';
import { displayText, writeJson } from '../output.js';
import type { CommandRunner } from '../runner.js';
import { expectation } from './get.js';
import { positiveInteger } from './transfer-options.js';

export function registerVerify(program: Command, run: CommandRunner): void {
  program
    .command('verify')
    .description('authenticate whole objects with the keys given (every stored byte), writing no plaintext anywhere; exit 4 tampered, 5 key failure, 6 some objects of --recursive failed')
    .argument('<location>', 's3://BUCKET/KEY, or s3://BUCKET/PREFIX/ with --recursive')
    .option('-r, --recursive', 'every object under the prefix')
    .option('--concurrency <n>', 'objects verified at once with --recursive (default 8)', positiveInteger)
    .option('--expect-id <objectId>', 'one object: refuse (exit 4) unless it is this very write (its identity from put --json)')
    .option('--start-after <key>', "resume after this key (a previous run's resumeAfter)")
    .option('--json', 'print results as JSON')
    .action(run(async ({ session, signal, options }, location: string) => {
      const where = parsePrefixLocation(location, 'the location');
      const client = await session.client();
      const out = session.io.stdout;
      if (!options.recursive) {
        if (where.key === '' || where.key.endsWith('/')) throw usageError('verify takes s3://BUCKET/KEY, or a prefix with --recursive');
        const result = await verifyObject(client, { Bucket: where.bucket, Key: where.key, ...(await session.customerKey()) }, { ...session.requestOptions(), ...expectation(options), signal });
        if (options.json) writeJson(out, { bucket: where.bucket, key: where.key, ...result });
        else if (!result.encrypted) out.write(`PLAINTEXT s3://${where.bucket}/${displayText(where.key)}: not encrypted (allowed by --allow-plaintext-read)\n`);
        else if ('format' in result) out.write(`OK s3://${where.bucket}/${displayText(where.key)}: S3EC v${result.formatVersion}, ${result.plaintextLength} bytes\n`);
        else out.write(`OK s3://${where.bucket}/${displayText(where.key)}: s3crypt v${result.formatVersion}, ${result.plaintextLength} bytes, identity ${result.objectId}\n`);
        return ExitCode.Success;
      }
      const summary = await verifyObjects(client, {
        bucket: where.bucket,
        ...(where.key ? { prefix: where.key } : {}),
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency as number } : {}),
        ...(options.startAfter !== undefined ? { startAfter: options.startAfter as string } : {}),
        signal,
        onProgress: (progress) => {
          if (options.json) writeJson(out, { event: 'object', ...progress.result, resumeAfter: progress.resumeAfter });
        },
      });
      if (options.json) writeJson(out, { event: 'summary', ...summary });
      else {
        out.write(`verified ${summary.verified}, plaintext ${summary.plaintext}, failed ${summary.failed}\n`);
        for (const failure of summary.failures) out.write(`  FAILED s3://${failure.bucket}/${displayText(failure.key)}: ${failure.reason.code}: ${displayText(failure.reason.message)}\n`);
      }
      return summary.failed > 0 ? ExitCode.PartialFailure : ExitCode.Success;
    }));
}
