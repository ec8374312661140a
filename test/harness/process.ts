// Starts and stops real servers for integration tests. Every server binds 127.0.0.1 on a free port,
// keeps its data in a fresh temp folder, and is killed (with its data removed) by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { homedir } from 'node:os';

/** Where install scripts cache server binaries, outside the repo (see scripts/install-servers.sh). */
export const SERVER_CACHE = process.env.S3CRYPT_CACHE ?? join(homedir(), '.cache', 's3crypt');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Starts `server` (net or http) on 127.0.0.1 on a free port and returns the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return (server.address() as AddressInfo).port;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `s3crypt-${prefix}-`));
}

export interface RunningServer {
  readonly process: ChildProcess;
  /** Output so far, for error messages when a server fails to start. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Resolves true once the server answers; polled every 100 ms. */
  readonly ready: () => Promise<boolean>;
  readonly timeoutMs?: number;
  /** Removed on stop. */
  readonly dataDir?: string;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  let output = '';
  const child = spawn(options.command, [...options.args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const spawnError = new Promise<never>((_, reject) => child.on('error', reject));

  const stop = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }
    if (options.dataDir) rmSync(options.dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const waitReady = (async () => {
    for (;;) {
      if (exited) throw new Error(`${options.command} exited during start-up:\n${output}`);
      if (await options.ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${options.command} not ready in time:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await Promise.race([waitReady, spawnError]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { process: child, output: () => output, stop };
}

/** True once `url` answers with a status below 500. */
export async function answers(url: string, init?: RequestInit): Promise<boolean> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.status < 500;
}
