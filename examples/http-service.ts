// A file service in front of an encrypted bucket (Fastify). Clients send and receive plaintext over
// HTTP; the bucket only ever holds ciphertext.
//   PUT  /files/<key>   stores the request body at <key> (201)
//   POST /files         stores it under a new id (201, Location: /files/<id>)
//   GET  /files/<key>   returns it, with `Range` support (206 + Content-Range, 416 when unsatisfiable)
//   HEAD /files/<key>   its length, without reading it
// Uploads stream straight into lib-storage's `Upload` (never buffered whole: memory per upload is
// about partSize × queueSize); downloads stream the decrypted body, and a ranged GET fetches and
// authenticates only the segments it needs. Failures become HTTP statuses without their details:
// a tampered object is 502, a missing one 404, a KMS outage 503.
//
// Run: S3_BUCKET=my-bucket S3CRYPT_MASTER_KEY=<32 bytes, base64> PORT=8080 node --import tsx examples/http-service.ts
//      curl -T report.pdf localhost:8080/files/report.pdf; curl -r 0-99 localhost:8080/files/report.pdf
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.)
import { GetObjectCommand, HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring, S3CryptError, type Keyring } from '@s3crypt/client';

export interface FileServiceOptions {
  readonly s3: S3Client;
  readonly keyring: Keyring;
  readonly bucket: string;
  readonly logger?: boolean;
}

export function buildFileService({ s3, keyring, bucket, logger = false }: FileServiceOptions): FastifyInstance {
  const client = new EncryptingS3Client({ client: s3, keyring });
  // Our own HEAD route below answers from HeadObject instead of running (and decrypting) a GET.
  const app = Fastify({ logger, exposeHeadRoutes: false });

  // No body parsing: whatever the content type, the handler reads the request stream itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const store = async (key: string, request: FastifyRequest): Promise<void> => {
    const contentType = request.headers['content-type'] ?? 'application/octet-stream';
    await new Upload({ client, params: { Bucket: bucket, Key: key, Body: request.raw, ContentType: contentType }, partSize: 5 * 1024 * 1024, queueSize: 2 }).done();
  };

  app.put('/files/*', async (request, reply) => {
    const key = objectKey(request);
    await store(key, request);
    return reply.code(201).send({ key });
  });

  app.post('/files', async (request, reply) => {
    const key = randomUUID();
    await store(key, request);
    return reply.code(201).header('location', `/files/${key}`).send({ key });
  });

  app.get('/files/*', async (request, reply) => {
    const key = objectKey(request);
    const range = singleRange(request.headers.range);
    let object;
    try {
      object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: range } : {}) }));
    } catch (error) {
      if (!(error instanceof S3ServiceException && error.name === 'InvalidRange')) throw error;
      // 416 names the length so the client can ask again; HeadObject reports the plaintext length.
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return reply.code(416).header('content-range', `bytes */${head.ContentLength}`).send();
    }
    // ContentLength and ContentRange are plaintext positions; the ETag is the store's (of the ciphertext).
    reply.header('accept-ranges', 'bytes').header('content-type', object.ContentType ?? 'application/octet-stream').header('content-length', object.ContentLength);
    if (object.ContentRange) reply.code(206).header('content-range', object.ContentRange);
    // A segment that fails to authenticate errors this stream: before the first byte, the error
    // handler answers 502; later, the connection is cut, so a client never mistakes a partial
    // body for the whole (its length is short of Content-Length).
    return reply.send(object.Body as Readable);
  });

  app.head('/files/*', async (request, reply) => {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(request) }));
    return reply.header('accept-ranges', 'bytes').header('content-type', head.ContentType ?? 'application/octet-stream').header('content-length', head.ContentLength).send();
  });

  app.setErrorHandler((error, request, reply) => {
    const status = httpStatusFor(error);
    // The code and message go to your logs (they carry no key material); the client gets the status only.
    request.log.warn({ code: error instanceof S3CryptError ? error.code : (error as Error).name, err: error }, 'request failed');
    if (status === 503) reply.header('retry-after', '5');
    return reply.code(status).send({ error: status === 404 ? 'not found' : status === 503 ? 'try again later' : status < 500 ? 'bad request' : 'the file could not be served' });
  });
  return app;
}

/** What each failure means for an HTTP client (see examples/error-handling.ts for every code). */
export function httpStatusFor(error: unknown): number {
  if (error instanceof S3CryptError) {
    switch (error.code) {
      case 'ERR_KMS_UNAVAILABLE':
      case 'ERR_KMS_THROTTLED':
        return 503;
      case 'ERR_DECRYPTION_FAILED':
      case 'ERR_HEADER_AUTH_FAILED':
      case 'ERR_KEY_COMMITMENT_MISMATCH':
      case 'ERR_OBJECT_TRUNCATED':
      case 'ERR_OBJECT_MALFORMED':
      case 'ERR_ENVELOPE_MALFORMED':
      case 'ERR_RESPONSE_TOO_LARGE':
        return 502; // the store gave us something that is not what we wrote
      default:
        return 500; // a key we do not hold or trust, an unencrypted object, a KMS key disabled, …
    }
  }
  if (error instanceof S3ServiceException) return error.name === 'NoSuchKey' || error.name === 'NotFound' ? 404 : 502;
  const status = (error as { statusCode?: unknown }).statusCode; // Fastify's own (415, 413, …)
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
}

function objectKey(request: FastifyRequest): string {
  const key = (request.params as Record<string, string | undefined>)['*'] ?? '';
  if (key === '' || Buffer.byteLength(key) > 1024) throw Object.assign(new Error('invalid key'), { statusCode: 400 });
  return key;
}

/** `Range` passed on when it is one range in a form GetObject takes; anything else is ignored (RFC 9110 allows it) and the whole file is sent. */
function singleRange(header: string | undefined): string | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] !== '' && match[2] !== '' && Number(match[2]) < Number(match[1])) return undefined;
  return match[0];
}

async function main(): Promise<void> {
  const bucket = process.env.S3_BUCKET;
  const masterKey = Buffer.from(process.env.S3CRYPT_MASTER_KEY ?? '', 'base64');
  if (!bucket || masterKey.length !== 32) throw new Error('set S3_BUCKET and S3CRYPT_MASTER_KEY (32 bytes, base64)');
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}) });
  const app = buildFileService({ s3, keyring: new RawAesKeyring({ keyName: 'app-key', masterKey }), bucket, logger: true });
  await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8080) });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
