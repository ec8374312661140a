// Vitest global setup: one MinIO for the whole integration run, shared through S3_ENDPOINT.
import type { TestProject } from 'vitest/node';
import { endpointFromEnv, startMinio } from './minio.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = endpointFromEnv();
  if (existing) {
    project.provide('s3', existing);
    return async () => {};
  }
  const { endpoint, server } = await startMinio();
  project.provide('s3', endpoint);
  return () => server.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: import('./minio.js').S3Endpoint;
  }
}
