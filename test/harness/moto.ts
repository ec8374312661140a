// moto's standalone server as the AWS KMS for integration tests (installed from PyPI by
// scripts/install-servers.sh), on 127.0.0.1, with its state in memory; or the server named by
// AWS_KMS_ENDPOINT when that is set.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { answers, freePort, SERVER_CACHE, startServer, tempDir, type RunningServer } from './process.js';

export const MOTO_BINARY = process.env.MOTO_BINARY ?? join(SERVER_CACHE, 'bin', 'moto_server');

export async function startMoto(): Promise<{ endpoint: string; server: RunningServer }> {
  if (!existsSync(MOTO_BINARY)) throw new Error(`moto_server not found at ${MOTO_BINARY}: run scripts/install-servers.sh moto`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const dataDir = tempDir('moto');
  const server = await startServer({
    command: MOTO_BINARY,
    args: ['-H', '127.0.0.1', '-p', String(port)],
    env: { HOME: dataDir },
    cwd: dataDir,
    ready: () => answers(`${endpoint}/moto-api/`),
    dataDir,
  });
  return { endpoint, server };
}

/** The endpoint from the environment, if the caller points tests at an existing KMS server (e.g. moto). */
export function kmsEndpointFromEnv(): string | undefined {
  return process.env.AWS_KMS_ENDPOINT || undefined;
}

/** The server named by AWS_KMS_ENDPOINT, or one started for the caller (its `server` is then set, for the caller to stop). */
export async function motoFromEnvOrStarted(): Promise<{ endpoint: string; server?: RunningServer }> {
  const endpoint = kmsEndpointFromEnv();
  return endpoint ? { endpoint } : startMoto();
}

/** A real KMSClient pointed at the test server, failing fast (one attempt) so outages show quickly. */
export function kmsClient(endpoint: string): KMSClient {
  return new KMSClient({
    endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}
