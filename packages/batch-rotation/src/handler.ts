// The rotation step as an S3 Batch Operations Lambda handler: each task is one object, handed to
// @s3crypt/client's rotateObject (the same step rotateKeys runs on one machine), and its outcome
// mapped to Batch Operations' result codes: a KMS throttle, a service or network failure or a
// concurrent write is a TemporaryFailure (Batch Operations retries it), anything else permanent.
import { rotateObject, type EncryptingS3Client, type ObjectRotation, type RotateObjectOptions } from '@s3crypt/client';
import { bucketOf, checkEvent, type S3BatchEvent, type S3BatchResponse, type S3BatchTask, type S3BatchTaskResult } from './schema.js';
import { decodeManifestKey } from './manifest.js';

/** The part of the Lambda context the handler reads (it stops work before the function times out). */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/**
 * @example
 * ```ts
 * const options: BatchRotationHandlerOptions = { client, rotation: { to: new AwsKmsKeyring({ keyId: NEW_KEY_ARN }) } };
 * ```
 */
export interface BatchRotationHandlerOptions {
  /** The client whose keyring and key policy unwrap the current data keys (the old KEKs). */
  readonly client: EncryptingS3Client;
  /** What to do to each object, as for rotateKeys: the target keyring, selection, mode. */
  readonly rotation: Omit<RotateObjectOptions, 'signal'>;
  /**
   * Time kept back before the Lambda's own timeout: work still running then is aborted and reported
   * as a TemporaryFailure, so Batch Operations retries it. Default 10 s.
   */
  readonly reserveMs?: number;
}

/** Job-level choices a Batch Operations job may pass as `UserArguments` (schema 2.0). */
function fromUserArguments(args: Readonly<Record<string, string>> | null | undefined): Partial<RotateObjectOptions> {
  if (!args) return {};
  const options: { dryRun?: boolean; migratePlaintext?: boolean; mode?: 'rewrap' | 'reencrypt' } = {};
  if (args.dryRun !== undefined) options.dryRun = args.dryRun === 'true';
  if (args.migratePlaintext !== undefined) options.migratePlaintext = args.migratePlaintext === 'true';
  if (args.mode === 'rewrap' || args.mode === 'reencrypt') options.mode = args.mode;
  else if (args.mode !== undefined) throw new TypeError('S3 Batch Operations event: userArguments.mode must be "rewrap" or "reencrypt"');
  return options;
}

/** Result strings are stored in the job's completion report: short, one line. */
function line(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > 900 ? `${flat.slice(0, 900)}…` : flat;
}

function resultOf(task: S3BatchTask, rotation: ObjectRotation): S3BatchTaskResult {
  const { taskId } = task;
  switch (rotation.outcome) {
    case 'rotated':
    case 'would-rotate':
      return { taskId, resultCode: 'Succeeded', resultString: line(`${rotation.outcome} (${rotation.method})${rotation.objectId ? ` objectId=${rotation.objectId}` : ''}`) };
    case 'skipped':
      if (rotation.reason === 'not-found') return { taskId, resultCode: 'PermanentFailure', resultString: 'NoSuchKey: the object does not exist' };
      return { taskId, resultCode: 'Succeeded', resultString: `skipped (${rotation.reason})` };
    case 'failed':
      return { taskId, resultCode: rotation.reason.retryable ? 'TemporaryFailure' : 'PermanentFailure', resultString: line(`${rotation.reason.code}: ${rotation.reason.message}`) };
  }
}

async function runTask(options: BatchRotationHandlerOptions, rotation: RotateObjectOptions, task: S3BatchTask): Promise<S3BatchTaskResult> {
  const bucket = bucketOf(task);
  const key = decodeManifestKey(task.s3Key);
  if (!bucket || !key) return { taskId: task.taskId, resultCode: 'PermanentFailure', resultString: 'the task names no valid bucket and URL-encoded key' };
  try {
    const versionId = task.s3VersionId ?? undefined;
    return resultOf(task, await rotateObject(options.client, { bucket, key, ...(versionId ? { versionId } : {}) }, rotation));
  } catch (error) {
    if (rotation.signal?.aborted) return { taskId: task.taskId, resultCode: 'TemporaryFailure', resultString: 'the function ran out of time; retried by Batch Operations' };
    throw error;
  }
}

/**
 * A Lambda handler for an S3 Batch Operations "Invoke AWS Lambda function" job (invocation schema
 * 2.0; 1.0 accepted) that rotates each task's object with `rotateObject`. `UserArguments` may set
 * `dryRun`, `migratePlaintext` (`"true"`/`"false"`) and `mode` (`rewrap`/`reencrypt`).
 *
 * @example
 * ```ts
 * // index.ts of the function
 * const s3 = new S3Client({});
 * const client = new EncryptingS3Client({ client: s3, keyring: new AwsKmsKeyring({ keyId: OLD_KEY_ARN }) });
 * export const handler = createBatchRotationHandler({ client, rotation: { to: new AwsKmsKeyring({ keyId: NEW_KEY_ARN }) } });
 * ```
 */
export function createBatchRotationHandler(options: BatchRotationHandlerOptions): (event: S3BatchEvent, context?: LambdaContextLike) => Promise<S3BatchResponse> {
  if (!options?.client || !options.rotation) throw new TypeError('createBatchRotationHandler: options.client and options.rotation are required');
  const reserveMs = options.reserveMs ?? 10_000;
  return async (event, context) => {
    checkEvent(event);
    const remaining = context?.getRemainingTimeInMillis();
    const signal = remaining === undefined ? undefined : AbortSignal.timeout(Math.max(1, remaining - reserveMs));
    const rotation: RotateObjectOptions = { ...options.rotation, ...fromUserArguments(event.job.userArguments), ...(signal ? { signal } : {}) };
    const results = await Promise.all(event.tasks.map((task) => runTask(options, rotation, task)));
    return { invocationSchemaVersion: event.invocationSchemaVersion, treatMissingKeysAs: 'PermanentFailure', invocationId: event.invocationId, results };
  };
}
