// Runs the real `s3crypt` binary (packages/cli/bin/s3crypt.js, over the built dist/) as a
// subprocess against the test MinIO, as a user's shell would.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { S3Endpoint } from './minio.js';

export const CLI_BINARY = fileURLToPath(new URL('../../packages/cli/bin/s3crypt.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
}

/** The environment a user of MinIO would set: credentials, region, and nothing else from ours. */
export function cliEnvironment(s3: S3Endpoint, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    // No shared config of the machine's user leaks in.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    ...extra,
  };
}

/** Starts `s3crypt args…`; `stdin` is piped from the given data or stream (else empty). */
export function startCli(args: readonly string[], options: { env: NodeJS.ProcessEnv; stdin?: Buffer | string | Readable; cwd?: string }): CliRun {
  const child = spawn(process.execPath, [CLI_BINARY, ...args], { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.on('error', () => undefined); // the CLI may exit before reading all of it
  const input = options.stdin;
  if (input === undefined) child.stdin!.end();
  else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin!.end(input);
  else input.pipe(child.stdin!);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr }));
  });
  return { child, done };
}

/** Runs `s3crypt args…` to completion. */
export function runCli(args: readonly string[], options: { env: NodeJS.ProcessEnv; stdin?: Buffer | string | Readable; cwd?: string }): Promise<CliResult> {
  return startCli(args, options).done;
}

/** The peak resident set (VmHWM, bytes) of a running process so far, or undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
