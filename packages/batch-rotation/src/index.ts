export { createBatchRotationHandler } from './handler.js';
export type { BatchRotationHandlerOptions, LambdaContextLike } from './handler.js';
export type { S3BatchEvent, S3BatchTask, S3BatchTaskResult, S3BatchResponse, S3BatchResultCode } from './schema.js';
export { tasksFromCsvManifest, objectsFromCsvManifest, batchEvent } from './manifest.js';
