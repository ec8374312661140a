// An S3 store held in this process's memory, plugged in as the SDK's request handler: PutObject and
// GetObject (whole, `bytes=a-b` and `bytes=-n`) with user metadata, enough to measure the CPU a client
// spends per request without a server's noise on the same cores. Benchmarks only.
import { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';

interface StoredObject {
  readonly body: Buffer;
  readonly metadata: Record<string, string>;
  readonly etag: string;
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
}

async function bytesOf(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function response(statusCode: number, headers: Record<string, string>, body: Buffer) {
  return { response: { statusCode, reason: '', headers: { ...headers, 'content-length': String(body.length) }, body: Readable.from([body]) } };
}

/**
 * A plain S3Client whose requests never leave the process.
 *
 * @example
 * ```ts
 * const client = memoryStoreClient();
 * await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'hello' }));
 * ```
 */
export function memoryStoreClient(objects = new Map<string, StoredObject>()): S3Client {
  let etags = 0;
  const handler = {
    metadata: { handlerProtocol: 'http/1.1' },
    destroy() {},
    async handle(request: Request) {
      const path = decodeURIComponent(request.path);
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      if (request.method === 'PUT') {
        const body = await bytesOf(request.body);
        const metadata = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('x-amz-meta-')));
        const etag = `"${++etags}"`;
        objects.set(path, { body, metadata, etag });
        return response(200, { etag }, Buffer.alloc(0));
      }
      const stored = objects.get(path);
      if (request.method !== 'GET' || !stored) return response(404, { 'content-type': 'application/xml' }, Buffer.from('<Error><Code>NoSuchKey</Code></Error>'));
      const common = { etag: stored.etag, 'last-modified': new Date(0).toUTCString(), ...stored.metadata };
      const range = /^bytes=(\d*)-(\d*)$/.exec(headers.range ?? '');
      if (!range) return response(200, common, stored.body);
      const total = stored.body.length;
      const [start, end] = range[1] === '' ? [Math.max(0, total - Number(range[2])), total] : [Number(range[1]), Math.min(total, range[2] === '' ? total : Number(range[2]) + 1)];
      return response(206, { ...common, 'content-range': `bytes ${start}-${end - 1}/${total}` }, stored.body.subarray(start, end));
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  return new S3Client({ region: 'us-east-1', endpoint: 'http://memory.invalid', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, requestHandler: handler as never });
}
