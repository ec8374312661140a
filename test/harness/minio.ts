// A real MinIO for integration tests: the pinned build from scripts/install-servers.sh, or the
// server named by S3_ENDPOINT (with S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY) when that is set.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { answers, freePort, SERVER_CACHE, startServer, tempDir, type RunningServer } from './process.js';

export interface S3Endpoint {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export const MINIO_BINARY = process.env.MINIO_BINARY ?? join(SERVER_CACHE, 'bin', 'minio');

/** The test credentials at `host:port`. */
export function minioEndpoint(address: string): S3Endpoint {
  return { endpoint: `http://${address}`, accessKeyId: 's3crypt-test', secretAccessKey: 's3crypt-test-secret' };
}

/** `minio server` arguments: quiet, on `address`, its console on `consoleAddress`, data in `dataDir`. */
export function minioServerArgs(address: string, consoleAddress: string, dataDir: string): string[] {
  return ['server', '--quiet', '--address', address, '--console-address', consoleAddress, dataDir];
}

/** The server's environment: the endpoint's credentials as root user, no browser, no update checks. */
export function minioServerEnvironment(endpoint: S3Endpoint): NodeJS.ProcessEnv {
  return { MINIO_ROOT_USER: endpoint.accessKeyId, MINIO_ROOT_PASSWORD: endpoint.secretAccessKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off', MINIO_CI_CD: '1' };
}

export async function startMinio(): Promise<{ endpoint: S3Endpoint; server: RunningServer }> {
  if (!existsSync(MINIO_BINARY)) {
    throw new Error(`MinIO not found at ${MINIO_BINARY}: run scripts/install-servers.sh minio`);
  }
  const port = await freePort();
  const consolePort = await freePort();
  const dataDir = tempDir('minio');
  const endpoint = minioEndpoint(`127.0.0.1:${port}`);
  const server = await startServer({
    command: MINIO_BINARY,
    args: minioServerArgs(`127.0.0.1:${port}`, `127.0.0.1:${consolePort}`, dataDir),
    env: minioServerEnvironment(endpoint),
    ready: () => answers(`${endpoint.endpoint}/minio/health/live`),
    dataDir,
  });
  return { endpoint, server };
}

/** The endpoint from the environment, if the caller points tests at an existing server. */
export function endpointFromEnv(): S3Endpoint | undefined {
  const endpoint = process.env.S3_ENDPOINT;
  if (!endpoint) return undefined;
  return {
    endpoint,
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'minioadmin',
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'minioadmin',
  };
}

export function s3Client(endpoint: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: endpoint.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: endpoint.accessKeyId, secretAccessKey: endpoint.secretAccessKey },
  });
}

let bucketCounter = 0;
/** Creates a bucket with a unique name, so test files never share state. */
export async function freshBucket(client: S3Client, prefix = 'test'): Promise<string> {
  const bucket = `${prefix}-${process.pid}-${Date.now().toString(36)}-${bucketCounter++}`.toLowerCase();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}
