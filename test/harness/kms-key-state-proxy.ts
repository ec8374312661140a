// An HTTP proxy on 127.0.0.1 in front of moto's KMS server that refuses Encrypt, GenerateDataKey and
// Decrypt with a disabled or pending-deletion key, as real AWS KMS does.
//
// Why it exists: moto 5.2.5 records key state (DisableKey, EnableKey, ScheduleKeyDeletion and
// CancelKeyDeletion all succeed and DescribeKey reports the new KeyState) but ignores it: it keeps
// answering the cryptographic operations. AWS's own local-kms, which does enforce key state, could not
// be installed (the Go module proxy refuses it). Without this proxy crypto-shredding could not be
// tested end to end.
//
// What it adds, and nothing more: for those three operations (AWS JSON 1.1, `X-Amz-Target:
// TrentService.<Op>`) it asks moto's DescribeKey for the request's KeyId (a key id, key ARN or alias)
// and, when moto reports KeyState Disabled or PendingDeletion, answers itself with real KMS's wire
// response: HTTP 400, `application/x-amz-json-1.1`, `{"__type":"DisabledException","message":"<key
// ARN> is disabled."}` or `{"__type":"KMSInvalidStateException","message":"<key ARN> is pending
// deletion."}`. The key state is therefore moto's own record, never a copy kept here, so it also holds
// for state changed on a shared moto without going through this proxy. A Decrypt without KeyId is
// forwarded, and refused afterwards if moto's answer names a key in one of those states.
//
// Everything else is moto's real behaviour: every request is forwarded byte for byte (headers, the
// client's signature, which moto does not check, and body), and moto's response is returned as is.
// If moto cannot be reached the client's connection is destroyed, so the client sees a network error.
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './process.js';

export interface KeyStateProxy {
  /** http://127.0.0.1:<port>, for a KMSClient's `endpoint`. */
  readonly endpoint: string;
  close(): Promise<void>;
}

interface Upstream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const GUARDED = new Set(['Encrypt', 'GenerateDataKey', 'Decrypt']);

/** Real KMS's exception for a cryptographic operation on a key in `keyState`, if it refuses one. */
function keyStateRefusal(keyState: unknown, arn: string): { type: string; message: string } | undefined {
  if (keyState === 'Disabled') return { type: 'DisabledException', message: `${arn} is disabled.` };
  if (keyState === 'PendingDeletion') return { type: 'KMSInvalidStateException', message: `${arn} is pending deletion.` };
  return undefined;
}

export async function startKeyStateProxy(upstreamEndpoint: string): Promise<KeyStateProxy> {
  const upstream = new URL(upstreamEndpoint);

  // The body is read whole first, so it always goes on with its length rather than chunked.
  const send = (method: string, path: string, { 'transfer-encoding': _chunked, ...headers }: IncomingHttpHeaders, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const forwarded = request(
        { host: upstream.hostname, port: upstream.port, method, path, headers: { ...headers, 'content-length': String(body.length) } },
        (response) => {
          readAll(response).then((data) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: data }), reject);
        },
      );
      forwarded.on('error', reject);
      forwarded.end(body);
    });

  /** The key's ARN and KeyState per moto's DescribeKey, with the client's own headers; undefined if moto does not know it. */
  const describe = async (headers: IncomingHttpHeaders, keyId: string) => {
    const answer = await send('POST', '/', { ...headers, 'x-amz-target': 'TrentService.DescribeKey' }, Buffer.from(JSON.stringify({ KeyId: keyId })));
    if (answer.status !== 200) return undefined;
    const metadata = (parseJson(answer.body)?.KeyMetadata ?? {}) as { Arn?: unknown; KeyState?: unknown };
    return typeof metadata.Arn === 'string' ? { arn: metadata.Arn, keyState: metadata.KeyState } : undefined;
  };

  const refusalFor = async (headers: IncomingHttpHeaders, keyId: unknown) => {
    if (typeof keyId !== 'string' || keyId === '') return undefined;
    const key = await describe(headers, keyId);
    return key && keyStateRefusal(key.keyState, key.arn);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readAll(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
    const keyId = GUARDED.has(operation) ? parseJson(body)?.KeyId : undefined;

    if (GUARDED.has(operation) && keyId !== undefined) {
      const refusal = await refusalFor(req.headers, keyId);
      if (refusal) return refuse(res, refusal);
    }
    const answer = await send(req.method ?? 'POST', req.url ?? '/', req.headers, body);
    if (operation === 'Decrypt' && keyId === undefined && answer.status === 200) {
      const refusal = await refusalFor(req.headers, parseJson(answer.body)?.KeyId);
      if (refusal) return refuse(res, refusal);
    }
    const { 'transfer-encoding': _chunked, connection: _connection, ...headers } = answer.headers;
    res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
    res.end(answer.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const port = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function refuse(res: ServerResponse, refusal: { type: string; message: string }): void {
  const body = Buffer.from(JSON.stringify({ __type: refusal.type, message: refusal.message }));
  res.writeHead(400, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': String(body.length),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(body);
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
