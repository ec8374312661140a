// The S3 Batch Operations "Invoke AWS Lambda function" payloads, invocation schema 2.0 (and 1.0,
// which names the bucket by ARN), as AWS documents them; validated, because the handler trusts nothing.

/**
 * One task: an object of the manifest. `s3Key` is URL-encoded, as in the manifest.
 *
 * @example
 * ```ts
 * const task: S3BatchTask = { taskId: 'dGFzaw', s3Bucket: 'my-bucket', s3Key: 'reports/2026%20Q1.csv', s3VersionId: null };
 * ```
 */
export interface S3BatchTask {
  readonly taskId: string;
  readonly s3Key: string;
  readonly s3VersionId?: string | null;
  /** Schema 2.0. */
  readonly s3Bucket?: string;
  /** Schema 1.0. */
  readonly s3BucketArn?: string;
}

/**
 * What S3 Batch Operations sends to the function.
 *
 * @example
 * ```ts
 * const event: S3BatchEvent = { invocationSchemaVersion: '2.0', invocationId: 'aW52', job: { id: 'job-1', userArguments: { dryRun: 'true' } }, tasks: [task] };
 * ```
 */
export interface S3BatchEvent {
  readonly invocationSchemaVersion: string;
  readonly invocationId: string;
  readonly job: { readonly id: string; readonly userArguments?: Readonly<Record<string, string>> | null };
  readonly tasks: readonly S3BatchTask[];
}

/** How a task ended, as S3 Batch Operations counts it: `TemporaryFailure` is retried. */
export type S3BatchResultCode = 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure';

/**
 * One task's result.
 *
 * @example
 * ```ts
 * const result: S3BatchTaskResult = { taskId: 'dGFzaw', resultCode: 'Succeeded', resultString: 'rotated (rewrap)' };
 * ```
 */
export interface S3BatchTaskResult {
  readonly taskId: string;
  readonly resultCode: S3BatchResultCode;
  readonly resultString: string;
}

/**
 * What the function answers.
 *
 * @example
 * ```ts
 * const response: S3BatchResponse = { invocationSchemaVersion: '2.0', treatMissingKeysAs: 'PermanentFailure', invocationId: event.invocationId, results };
 * ```
 */
export interface S3BatchResponse {
  readonly invocationSchemaVersion: string;
  readonly treatMissingKeysAs: S3BatchResultCode;
  readonly invocationId: string;
  readonly results: readonly S3BatchTaskResult[];
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Fails with a TypeError unless `event` is a Batch Operations invocation this handler understands. */
export function checkEvent(event: unknown): asserts event is S3BatchEvent {
  const e = event as Partial<S3BatchEvent> | undefined;
  if (!e || (e.invocationSchemaVersion !== '2.0' && e.invocationSchemaVersion !== '1.0')) {
    throw new TypeError('S3 Batch Operations event: invocationSchemaVersion must be "2.0" (or "1.0")');
  }
  if (!isString(e.invocationId) || !e.job || !isString(e.job.id) || !Array.isArray(e.tasks)) {
    throw new TypeError('S3 Batch Operations event: invocationId, job.id and tasks are required');
  }
  for (const task of e.tasks as unknown[]) {
    const t = task as Partial<S3BatchTask> | undefined;
    if (!t || !isString(t.taskId) || typeof t.s3Key !== 'string') throw new TypeError('S3 Batch Operations event: every task needs taskId and s3Key');
  }
}

/** The bucket a task names: `s3Bucket` (2.0) or the last part of `s3BucketArn` (1.0). */
export function bucketOf(task: S3BatchTask): string | undefined {
  if (isString(task.s3Bucket)) return task.s3Bucket;
  if (isString(task.s3BucketArn)) return /^arn:[^:]+:s3:::([^/]+)$/.exec(task.s3BucketArn)?.[1];
  return undefined;
}
