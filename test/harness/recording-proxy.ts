// A recording proxy in front of MinIO: every request is forwarded untouched (raw headers with the
// client's SigV4 signature, body streamed) and recorded whole — method, path and query, raw headers
// and body bytes — so a test can search everything the store was sent (e.g. for a key that must
// never leave the process). Answers go back as MinIO sent them. Bodies are kept in memory: meant
// for tests that send a few tens of MiB at most.
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { S3Endpoint } from './minio.js';
import { listenOnLoopback } from './process.js';

/**
 * One request as the store received it.
 *
 * @example
 * expect(proxy.requests.some((r) => r.headers.some(([name]) => name.toLowerCase() === 'x-amz-server-side-encryption-customer-key'))).toBe(false);
 */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as sent (percent-encoded). */
  readonly url: string;
  /** Raw header names and values, in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** Every body byte the client sent. */
  readonly body: Buffer;
}

/**
 * A running recording proxy.
 *
 * @example
 * const proxy = await startRecordingProxy(inject('s3'));
 * const client = s3Client(proxy.endpoint);
 */
export interface RecordingProxy {
  readonly endpoint: S3Endpoint;
  /** Every request completed so far, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** Returns the requests recorded so far and forgets them. */
  take(): RecordedRequest[];
  stop(): Promise<void>;
}

function pairs(rawHeaders: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) out.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  return out;
}

/** Starts a recording proxy for `upstream` on 127.0.0.1. */
export async function startRecordingProxy(upstream: S3Endpoint): Promise<RecordingProxy> {
  const target = new URL(upstream.endpoint);
  const agent = new Agent({ keepAlive: true });
  let requests: RecordedRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.rawHeaders, agent }, resolve);
      outgoing.on('error', reject);
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      pipeline(req, outgoing).catch(reject);
    });
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: pairs(req.rawHeaders), body: Buffer.concat(chunks) });
    res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
    await pipeline(answer, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const port = await listenOnLoopback(server);
  return {
    endpoint: { ...upstream, endpoint: `http://127.0.0.1:${port}` },
    get requests() {
      return requests;
    },
    take() {
      const taken = requests;
      requests = [];
      return taken;
    },
    stop: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

/**
 * Every spelling of a secret a request could carry it in: the raw bytes, hex (both cases), base64,
 * base64url, and base64 percent-encoded as in a URL.
 *
 * @example
 * const forms = secretForms(key);
 */
export function secretForms(secret: Uint8Array): Buffer[] {
  const bytes = Buffer.from(secret);
  const base64 = bytes.toString('base64');
  const texts = [bytes.toString('hex'), bytes.toString('hex').toUpperCase(), base64, bytes.toString('base64url'), encodeURIComponent(base64), base64.replace(/=+$/, '')];
  return [bytes, ...new Set(texts)].map((form) => Buffer.from(form));
}

/**
 * The requests (as `METHOD url: where`) in which any of `forms` occurs: in the URL (raw and decoded),
 * in any header name or value, or in the body.
 *
 * @example
 * expect(leaks(proxy.take(), secretForms(key))).toEqual([]);
 */
export function leaks(requests: readonly RecordedRequest[], forms: readonly Buffer[]): string[] {
  const found: string[] = [];
  for (const recorded of requests) {
    let decoded = recorded.url;
    try {
      decoded = decodeURIComponent(recorded.url);
    } catch {
      // a URL that does not decode is searched as sent
    }
    const places: [string, Buffer][] = [
      ['url', Buffer.from(`${recorded.url}\n${decoded}`, 'latin1')],
      ['headers', Buffer.from(recorded.headers.map(([name, value]) => `${name}: ${value}`).join('\n'), 'latin1')],
      ['body', recorded.body],
    ];
    for (const [where, haystack] of places) {
      if (forms.some((form) => haystack.includes(form))) found.push(`${recorded.method} ${recorded.url}: ${where}`);
    }
  }
  return found;
}
