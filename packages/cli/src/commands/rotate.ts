// `s3crypt rotate` and `s3crypt migrate`: shells over rotateKeys (@s3crypt/client), printing its
// progress and summary. `--key` keys unwrap; `--to-key` wraps (rotate) — migrate wraps under the first --key.
import type { Command } from 'commander';
import { rotateKeys, type Keyring, type KekMatcher, type RotateKeysOptions, type RotationSummary } from '@s3crypt/client';
import { objectsFromCsvManifest } from '@s3crypt/batch-rotation';
import { ExitCode, usageError } from '../exit-codes.js';
import { parseKeySpec } from '../key-spec.js';
import { readLocalFile } from '../local-files.js';
import { parsePrefixLocation } from '../locations.js';
import { displayText, writeJson } from '../output.js';
import type { ActionContext, CommandRunner } from '../runner.js';
import { keyValues } from '../session.js';
import { collect, positiveInteger } from './transfer-options.js';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d`, `12h`, `90m`… as a duration in milliseconds. */
export function duration(text: string): number {
  const match = /^(\d+)([smhdw])$/.exec(text);
  if (!match) throw usageError(`--older-than takes a number and a unit s, m, h, d or w (e.g. 30d); got ${JSON.stringify(text)}`);
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}

function selectionOptions(command: Command): Command {
  return command
    .option('--older-than <age>', 'only objects last modified longer ago than this (30d, 12h, …)')
    .option('--tag <key=value>', 'only objects with this tag (repeatable; one GetObjectTagging per object)', collect)
    .option('--metadata <key=value>', 'only objects with this user metadata (repeatable)', collect)
    .option('--manifest <file.csv>', 'the objects to take, as an S3 Batch Operations CSV manifest (bucket,key[,versionId]) instead of listing the prefix')
    .option('--concurrency <n>', 'objects in flight (default 8)', positiveInteger)
    .option('--start-after <key>', "resume a listing after this key (a previous run's resumeAfter)")
    .option('--dry-run', 'report what would change; write nothing, call no KMS')
    .option('--convert-s3ec', 'also rewrite AWS S3 Encryption Client objects in s3crypt format (needs --s3ec and their key)')
    .option('--json', 'print progress events and the summary as JSON lines');
}

async function commonOptions(context: ActionContext, location: string): Promise<Omit<RotateKeysOptions, 'to'>> {
  const { options, signal } = context;
  const where = parsePrefixLocation(location, 'the location');
  let objects: RotateKeysOptions['objects'];
  if (options.manifest !== undefined) {
    const csv = (await readLocalFile(options.manifest as string, 'manifest', ExitCode.Unexpected)).toString('utf8');
    try {
      objects = objectsFromCsvManifest(csv);
    } catch (error) {
      throw usageError(`manifest ${options.manifest as string}: ${(error as Error).message}`);
    }
  }
  const tags = keyValues(options.tag as string[] | undefined, '--tag');
  const metadata = keyValues(options.metadata as string[] | undefined, '--metadata');
  const context_ = context.session.encryptionContext;
  return {
    bucket: where.bucket,
    ...(where.key ? { prefix: where.key } : {}),
    ...(objects ? { objects } : {}),
    ...(options.olderThan !== undefined ? { modifiedBefore: new Date(Date.now() - duration(options.olderThan as string)) } : {}),
    ...(Object.keys(tags).length ? { tags } : {}),
    ...(Object.keys(metadata).length ? { metadata } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency as number } : {}),
    ...(options.startAfter !== undefined ? { startAfter: options.startAfter as string } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
    ...(options.convertS3ec ? { convertS3ec: true } : {}),
    ...(Object.keys(context_).length ? { encryptionContext: context_ } : {}),
    signal,
  };
}

async function runRotation(context: ActionContext, unwrapping: Keyring, options: RotateKeysOptions): Promise<ExitCode> {
  const { session } = context;
  const json = Boolean(context.options.json);
  const client = await session.clientWith(unwrapping);
  const quiet = session.options.quiet;
  const summary: RotationSummary = await rotateKeys(client, {
    ...options,
    onProgress: (progress) => {
      const { result } = progress;
      if (json) writeJson(session.io.stdout, { event: 'object', ...result, resumeAfter: progress.resumeAfter });
      else if (result.outcome === 'failed') session.warn(`failed: s3://${result.bucket}/${displayText(result.key)}: ${result.reason.code}: ${displayText(result.reason.message)}`);
      else if (!quiet && result.outcome !== 'skipped') session.warn(`${result.outcome}: s3://${result.bucket}/${displayText(result.key)}`);
    },
  });
  if (json) writeJson(session.io.stdout, { event: 'summary', ...summary });
  else {
    const skipped = Object.entries(summary.skippedBy).map(([reason, count]) => `${reason} ${count}`).join(', ');
    session.io.stdout.write(
      `${options.dryRun ? `would rotate ${summary.wouldRotate}` : `rotated ${summary.rotated}`}, skipped ${summary.skipped}${skipped ? ` (${skipped})` : ''}, failed ${summary.failed}\n` +
        (summary.resumeAfter !== undefined && summary.failed > 0 ? `resume after: ${displayText(summary.resumeAfter)}\n` : ''),
    );
    for (const failure of summary.failures) session.io.stdout.write(`  s3://${failure.bucket}/${displayText(failure.key)}: ${failure.reason.code}\n`);
  }
  return summary.failed > 0 ? ExitCode.PartialFailure : ExitCode.Success;
}

export function registerRotate(program: Command, run: CommandRunner): void {
  selectionOptions(
    program
      .command('rotate')
      .description("re-wrap every selected object's data key under --to-key (data bytes untouched, readers keep working); idempotent and resumable. --key gives the keys that unwrap")
      .argument('<location>', 's3://BUCKET[/PREFIX]')
      .requiredOption('--to-key <spec>', 'the key that wraps the data keys from now on (file:, aws-kms:, vault:, azure:, gcp:)')
      .option('--from-key <spec>', 'only objects with a data key wrapped under this key (repeatable)', collect)
      .option('--reencrypt', 'rewrite each object with a fresh data key instead of re-wrapping the old one')
      .option('--to-s3ec', 'rewrite s3crypt objects as AWS S3 Encryption Client V3 objects under --to-key (for readers that speak only that format)'),
  ).action(run(async (context, location: string) => {
    const { session, options } = context;
    const to = await session.keyring([parseKeySpec(options.toKey as string)]);
    const fromKeks: KekMatcher[] = [];
    for (const spec of (options.fromKey as string[] | undefined) ?? []) {
      const matchers = (await session.keyring([parseKeySpec(spec)])).kekMatchers?.();
      if (!matchers) throw usageError(`--from-key ${spec} cannot name its key (a KMS alias?): give the key ARN`);
      fromKeks.push(...matchers);
    }
    // Objects are opened with every --key, and with the target key (a rerun meets rotated objects).
    const specs = session.keySpecs();
    const unwrapping = specs.length ? await session.keyring([parseKeySpec(options.toKey as string), ...specs]) : to;
    return runRotation(context, unwrapping, {
      ...(await commonOptions(context, location)),
      to,
      ...(fromKeks.length ? { fromKeks } : {}),
      ...(options.reencrypt ? { mode: 'reencrypt' as const } : {}),
      ...(options.toS3ec ? { toS3ec: true } : {}),
    });
  }));

  selectionOptions(
    program
      .command('migrate')
      .description('encrypt the plaintext objects under s3://BUCKET[/PREFIX] in place under the first --key (objects already encrypted are left alone); idempotent and resumable')
      .argument('<location>', 's3://BUCKET[/PREFIX]'),
  ).action(run(async (context, location: string) => {
    const { session } = context;
    const keyring = await session.keyring();
    return runRotation(context, keyring, {
      ...(await commonOptions(context, location)),
      to: keyring,
      migratePlaintext: true,
      // Encrypted objects are not this command's business, whatever key they are under.
      fromKeks: [],
    });
  }));
}
