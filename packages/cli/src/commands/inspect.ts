// `s3crypt inspect s3://bucket/key`: the envelope as stored — format, suite, KEKs, sizes, identity —
// read without any key (nothing is unwrapped or authenticated: `s3crypt verify` does that).
import type { Command } from 'commander';
import { describeObject, type ObjectDescription } from '@s3crypt/client';
import { ExitCode } from '../exit-codes.js';
import { parseObjectLocation } from '../locations.js';
import { displayText, writeJson } from '../output.js';
import type { CommandRunner } from '../runner.js';

/** `s3crypt v2`, `S3EC v3`, `plaintext`. */
export function formatLabel(description: ObjectDescription): string {
  switch (description.format) {
    case 's3crypt':
      return `s3crypt v${description.formatVersion}`;
    case 's3ec':
      return `S3EC v${description.formatVersion}`;
    default:
      return description.format;
  }
}

/** The KEKs an object names, `provider:key-id` each. */
export function kekLabel(description: ObjectDescription): string {
  return description.keks.length ? description.keks.map((kek) => displayText(`${kek.providerId}:${kek.keyId}${kek.keyVersion ? `@${kek.keyVersion}` : ''}`)).join(',') : '-';
}

export function registerInspect(program: Command, run: CommandRunner): void {
  program
    .command('inspect')
    .description('show the envelope of s3://BUCKET/KEY: format, suite, key-encryption keys, sizes, identity — read without keys and not authenticated (use verify)')
    .argument('<object>', 's3://BUCKET/KEY')
    .option('--version-id <id>', 'a specific version')
    .option('--json', 'print as JSON')
    .action(run(async ({ session, signal, options }, object: string) => {
      const where = parseObjectLocation(object, 'the object');
      const description = await describeObject(session.s3, { Bucket: where.bucket, Key: where.key, ...(options.versionId ? { VersionId: options.versionId as string } : {}) }, { signal, encryptionContext: session.encryptionContext });
      if (options.json) writeJson(session.io.stdout, description);
      else {
        const out = session.io.stdout;
        const rows: [string, unknown][] = [
          ['object', `s3://${where.bucket}/${displayText(where.key)}`],
          ['format', formatLabel(description)],
          ...Object.entries(description)
            .filter(([field]) => !['bucket', 'key', 'format', 'formatVersion', 'keks'].includes(field))
            .map(([field, value]): [string, unknown] => [field, value]),
          ['keks', kekLabel(description)],
        ];
        for (const [field, value] of rows) out.write(`${field.padEnd(18)} ${typeof value === 'string' ? displayText(value) : displayText(JSON.stringify(value))}\n`);
        out.write('(as stored, not authenticated: `s3crypt verify` authenticates every byte)\n');
      }
      return ExitCode.Success;
    }));
}
