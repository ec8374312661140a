// Options shared by the commands that upload (put, cp).
import { InvalidArgumentError, type Command } from 'commander';
import { keyValues } from '../session.js';
import { DEFAULT_UPLOAD_SETTINGS, type UploadSettings } from '../transfers.js';

const MIB = 1024 * 1024;

function mebibytes(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 5 || parsed > 5120) throw new InvalidArgumentError('a part size in MiB, 5 to 5120');
  return parsed;
}

/** A positive integer option value (commander argParser). */
export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 1000) throw new InvalidArgumentError('an integer from 1 to 1000');
  return parsed;
}

/** Repeatable option values (commander argParser). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function addUploadOptions(command: Command): Command {
  return command
    .option('--part-size <MiB>', `multipart part size in MiB (default ${DEFAULT_UPLOAD_SETTINGS.partSize / MIB})`, mebibytes)
    .option('--parts-in-flight <n>', `parts uploaded at once per file (default ${DEFAULT_UPLOAD_SETTINGS.queueSize}); memory is about part size × this`, positiveInteger)
    .option('--content-type <type>', 'Content-Type of the uploaded object')
    .option('--metadata <key=value>', 'user metadata on the uploaded object (repeatable; stored in clear, like the key)', collect);
}

export function uploadSettings(options: Record<string, unknown>): UploadSettings {
  return {
    partSize: ((options.partSize as number | undefined) ?? DEFAULT_UPLOAD_SETTINGS.partSize / MIB) * MIB,
    queueSize: (options.partsInFlight as number | undefined) ?? DEFAULT_UPLOAD_SETTINGS.queueSize,
    contentType: options.contentType as string | undefined,
    metadata: keyValues(options.metadata as string[] | undefined, '--metadata'),
  };
}
