// A protocol-level fake of Azure Key Vault's key REST API for integration tests, driven by the real
// @azure/keyvault-keys client over HTTPS. Lowkey Vault (the brief's choice) is published only to
// GitHub Packages and Docker Hub, not Maven Central, so it cannot be installed here.
//
// Modelled: the bearer-challenge handshake (401 + WWW-Authenticate, any token accepted), keys with
// versions (create = new version), get, update of the `enabled` attribute, wrapkey/unwrapkey with
// RSA-OAEP-256 (RSA keys) and A256KW (oct-HSM keys, as on Managed HSM), Key Vault's error bodies and
// status codes (401, 403 on a disabled key, 404, 400 on a bad ciphertext). Not modelled: access
// policies / RBAC, throttling, soft delete, rotation policies, other key types and operations.
// HTTPS uses a throw-away self-signed certificate for 127.0.0.1 made with openssl; clients trust it
// through `ca` (the `agent` option of the Azure client), TLS verification stays on.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, randomUUID, constants, type KeyObject } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { freePort, tempDir } from './process.js';

interface KeyVersion {
  version: string;
  kty: 'RSA' | 'oct-HSM';
  enabled: boolean;
  created: number;
  updated: number;
  privateKey?: KeyObject;
  publicKey?: KeyObject;
  secret?: Buffer;
}

export interface FakeAzureKeyVault {
  /** `https://127.0.0.1:<port>` */
  readonly vaultUrl: string;
  /** PEM of the server's self-signed certificate, to trust in clients. */
  readonly ca: string;
  /** Counts of wrapkey/unwrapkey calls that reached the server. */
  readonly calls: { wrap: number; unwrap: number };
  stop(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Creates a self-signed certificate for 127.0.0.1 in a temp folder. */
export function selfSignedCertificate(): { key: string; cert: string } {
  const dir = tempDir('azure-kv-cert');
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

export async function startFakeAzureKeyVault(): Promise<FakeAzureKeyVault> {
  const { key, cert } = selfSignedCertificate();
  const keys = new Map<string, KeyVersion[]>();
  const calls = { wrap: 0, unwrap: 0 };

  const bundle = (base: string, name: string, v: KeyVersion) => {
    const kid = `${base}/keys/${name}/${v.version}`;
    const jwk: Record<string, unknown> = { kid, kty: v.kty, key_ops: ['wrapKey', 'unwrapKey'] };
    if (v.publicKey) {
      const exported = v.publicKey.export({ format: 'jwk' });
      jwk.n = exported.n;
      jwk.e = exported.e;
    }
    return { key: jwk, attributes: { enabled: v.enabled, created: v.created, updated: v.updated, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 } };
  };

  const find = (name: string, version: string | undefined): KeyVersion => {
    const versions = keys.get(name);
    if (!versions) throw new HttpError(404, 'KeyNotFound', `A key with (name/id) ${name} was not found in this key vault.`);
    const found = version ? versions.find((v) => v.version === version) : versions[versions.length - 1];
    if (!found) throw new HttpError(404, 'KeyNotFound', `A key with (name/id) ${name}/${version} was not found in this key vault.`);
    return found;
  };

  const usable = (v: KeyVersion, operation: string): KeyVersion => {
    if (!v.enabled) throw new HttpError(403, 'Forbidden', `Operation ${operation} is not allowed on a disabled key.`);
    return v;
  };

  const handle = (method: string, path: string[], body: Record<string, any>, base: string): unknown => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const [collection, name, second, third] = path;
    if (collection !== 'keys' || !name) throw new HttpError(400, 'BadParameter', `Unsupported path /${path.join('/')}`);
    if (method === 'POST' && second === 'create') {
      const kty = body.kty === 'oct-HSM' || body.kty === 'oct' ? 'oct-HSM' : body.kty === 'RSA' || body.kty === 'RSA-HSM' ? 'RSA' : undefined;
      if (!kty) throw new HttpError(400, 'BadParameter', `Unsupported key type ${String(body.kty)}`);
      const now = Math.floor(Date.now() / 1000);
      const v: KeyVersion = { version: randomUUID().replaceAll('-', ''), kty, enabled: body.attributes?.enabled ?? true, created: now, updated: now };
      if (kty === 'RSA') Object.assign(v, generateKeyPairSync('rsa', { modulusLength: body.key_size ?? 2048 }));
      else v.secret = randomBytes(32);
      keys.set(name, [...(keys.get(name) ?? []), v]);
      return bundle(base, name, v);
    }
    const operation = third ?? (second && ['wrapkey', 'unwrapkey'].includes(second) ? second : undefined);
    const version = operation && operation === second ? undefined : second || undefined;
    if (method === 'GET' && !operation) return bundle(base, name, usable(find(name, version), 'get'));
    if (method === 'PATCH' && !operation) {
      const v = find(name, version);
      if (typeof body.attributes?.enabled === 'boolean') v.enabled = body.attributes.enabled;
      v.updated = Math.floor(Date.now() / 1000);
      return bundle(base, name, v);
    }
    if (method === 'POST' && (operation === 'wrapkey' || operation === 'unwrapkey')) {
      const wrap = operation === 'wrapkey';
      if (wrap) calls.wrap++;
      else calls.unwrap++;
      const v = usable(find(name, version), wrap ? 'wrapKey' : 'unwrapKey');
      const value = Buffer.from(String(body.value ?? ''), 'base64url');
      const kid = `${base}/keys/${name}/${v.version}`;
      return { kid, value: b64url(transform(v, String(body.alg), wrap, value)) };
    }
    throw new HttpError(405, 'MethodNotAllowed', `${method} /${path.join('/')} is not supported`);
  };

  const server = createServer({ key, cert }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ms-request-id': randomUUID(), ...headers });
        res.end(JSON.stringify(payload));
      };
      if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
        send(401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, {
          'www-authenticate': 'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
        });
        return;
      }
      try {
        const url = new URL(req.url ?? '/', `https://${req.headers.host}`);
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? JSON.parse(text) : {};
        send(200, handle(req.method ?? 'GET', url.pathname.split('/').filter(Boolean), body, `https://${req.headers.host}`));
      } catch (error) {
        if (error instanceof HttpError) send(error.status, { error: { code: error.code, message: error.message } });
        else send(500, { error: { code: 'InternalError', message: String(error) } });
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    vaultUrl: `https://127.0.0.1:${port}`,
    ca: cert,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function transform(v: KeyVersion, alg: string, wrap: boolean, value: Buffer): Buffer {
  try {
    if (v.kty === 'RSA' && alg === 'RSA-OAEP-256') {
      const options = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
      return wrap ? publicEncrypt({ key: v.publicKey!, ...options }, value) : privateDecrypt({ key: v.privateKey!, ...options }, value);
    }
    if (v.kty === 'oct-HSM' && alg === 'A256KW') {
      const cipher = wrap ? createCipheriv('id-aes256-wrap', v.secret!, AES_KW_IV) : createDecipheriv('id-aes256-wrap', v.secret!, AES_KW_IV);
      return Buffer.concat([cipher.update(value), cipher.final()]);
    }
  } catch {
    throw new HttpError(400, 'BadParameter', 'Cryptographic failure: the ciphertext could not be processed with this key.');
  }
  throw new HttpError(400, 'BadParameter', `Algorithm ${alg} is not supported for key type ${v.kty}.`);
}
