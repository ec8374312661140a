import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  SelectObjectContentCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  WriteGetObjectResponseCommand,
} from '@aws-sdk/client-s3';

/** The commands whose identity matters: the client encrypts, decrypts or refuses them. */
const KNOWN: ReadonlyArray<readonly [abstract new (...args: never[]) => unknown, string]> = [
  [PutObjectCommand, 'PutObject'],
  [GetObjectCommand, 'GetObject'],
  [HeadObjectCommand, 'HeadObject'],
  [CopyObjectCommand, 'CopyObject'],
  [CreateMultipartUploadCommand, 'CreateMultipartUpload'],
  [UploadPartCommand, 'UploadPart'],
  [CompleteMultipartUploadCommand, 'CompleteMultipartUpload'],
  [AbortMultipartUploadCommand, 'AbortMultipartUpload'],
  [UploadPartCopyCommand, 'UploadPartCopy'],
  [SelectObjectContentCommand, 'SelectObjectContent'],
  [WriteGetObjectResponseCommand, 'WriteGetObjectResponse'],
];

interface CommandLike {
  readonly schema?: unknown;
  readonly constructor?: { readonly name?: string };
}

/**
 * The S3 operation a command performs. Class names alone are not enough: a minifying bundler renames
 * classes, and a command that is not recognised passes through unencrypted. So: `instanceof` our own
 * command classes, else the operation name in the command's schema (a string no bundler renames; it
 * covers a second copy of the SDK), else the class name.
 */
export function operationName(command: CommandLike): string {
  for (const [Command, name] of KNOWN) if (command instanceof Command) return name;
  const schema = command.schema as { name?: unknown } | readonly unknown[] | undefined;
  const fromSchema = Array.isArray(schema) ? schema[2] : (schema as { name?: unknown } | undefined)?.name;
  if (typeof fromSchema === 'string' && fromSchema.length > 0) return fromSchema;
  return (command.constructor?.name ?? '').replace(/Command$/, '');
}
