// A store that leaves the client's cores free: objects copied out of a running MinIO and served by
// bench/static-store.go, which sends bodies with sendfile and so costs almost no CPU, as a store on
// another machine would. For benchmarks that ask what the client does "where a core is free".
// Not a test: nothing here asserts anything.
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { s3Client, minioEndpoint, type S3Endpoint } from '../test/harness/minio.js';
import { answers, freePort, startServer, tempDir } from '../test/harness/process.js';
import { cachedBinary } from './cached-binary.js';

export interface StaticObject {
  readonly Bucket: string;
  readonly Key: string;
}

export interface StaticStore {
  /** Path-style endpoint; any credentials do, signatures are not checked. */
  readonly endpoint: S3Endpoint;
  /** The server's process id. */
  readonly pid: number;
  /** CPU seconds (user + system, all threads) the server process has used so far. */
  cpuSeconds(): number;
  /** Stops the server and removes its copy of the objects. */
  stop(): Promise<void>;
}

const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';

/** The server binary, built from bench/static-store.go on first use (named by the source's hash). */
function staticStoreBinary(): string {
  const source = fileURLToPath(new URL('./static-store.go', import.meta.url));
  // Stdlib only, so offline; no module file needed for one source file.
  const build = (output: string) =>
    execFileSync(GO, ['build', '-o', output, source], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GOFLAGS: '-buildvcs=false', GOPROXY: 'off' } });
  return cachedBinary(source, 's3crypt-static-store', build, 'bench/static-store: building bench/static-store.go with go failed');
}

/** Response headers worth replaying: the object's own, not the server's or the request's. */
function objectHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  const own = /^(etag|last-modified|content-type|content-encoding|content-language|content-disposition|cache-control|expires|x-amz-.*)$/;
  for (const [name, value] of Object.entries(headers)) {
    if (own.test(name) && name !== 'x-amz-request-id' && name !== 'x-amz-id-2') kept[name] = value;
  }
  return kept;
}

/** The file name the server looks for: SHA-256 of the decoded path-style request path. */
const fileName = (object: StaticObject) => createHash('sha256').update(`/${object.Bucket}/${object.Key}`).digest('hex');

/** Linux clock ticks per second, the unit of /proc CPU times. */
export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system, all threads) process `pid` has used so far, from /proc. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm) ": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * Copies `objects` (their stored bytes, as a plain S3Client reads them, and the headers of a HEAD)
 * from the store at `source` into a temp folder, and serves them at 127.0.0.1 on a free port.
 *
 * @example
 * ```ts
 * const store = await startStaticStore(minio.endpoint, [{ Bucket: 'b', Key: 'k' }]);
 * try {
 *   const body = (await s3Client(store.endpoint).send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).Body;
 * } finally {
 *   await store.stop();
 * }
 * ```
 */
export async function startStaticStore(source: S3Endpoint, objects: readonly StaticObject[]): Promise<StaticStore> {
  const binary = staticStoreBinary();
  const dir = tempDir('static-store');
  const client = s3Client(source);
  try {
    for (const object of objects) {
      const head = new HeadObjectCommand(object);
      let headers: Record<string, string> = {};
      head.middlewareStack.add(
        (next) => async (args) => {
          const result = await next(args);
          headers = (result.response as { headers: Record<string, string> }).headers;
          return result;
        },
        { step: 'deserialize', name: 'staticStoreHeaders' },
      );
      await client.send(head);
      // No If-Match needed: nothing writes to the source while we copy.
      const body = (await client.send(new GetObjectCommand(object))).Body as Readable;
      await pipeline(body, createWriteStream(join(dir, fileName(object))));
      writeFileSync(join(dir, `${fileName(object)}.json`), JSON.stringify({ headers: objectHeaders(headers) }));
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  } finally {
    client.destroy();
  }
  const port = await freePort();
  const endpoint = minioEndpoint(`127.0.0.1:${port}`);
  const server = await startServer({
    command: binary,
    args: ['--dir', dir, '--port', String(port)],
    ready: () => answers(`${endpoint.endpoint}/`), // 404 NoSuchKey: it answers
    dataDir: dir, // removed on stop
  });
  const pid = server.process.pid!;
  return { endpoint, pid, cpuSeconds: () => processCpuSeconds(pid), stop: () => server.stop() };
}

// ---- npm run bench:static-store-selftest: the same requests to MinIO and to the static store ----

async function selftest(): Promise<void> {
  const { CreateBucketCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const { startMinio } = await import('../test/harness/minio.js');
  const { EncryptingS3Client, RawAesKeyring, withS3Crypt } = await import('@s3crypt/client');
  const { randomBytes } = await import('node:crypto');
  const minio = await startMinio();
  const plain = s3Client(minio.endpoint);
  const keyring = new RawAesKeyring({ keyName: 'selftest', masterKey: randomBytes(32) });
  const Bucket = 'static-selftest';
  const data = randomBytes(40 * 1024 * 1024 + 123);
  await plain.send(new CreateBucketCommand({ Bucket }));
  await plain.send(new PutObjectCommand({ Bucket, Key: 'plain/a b+c', Body: data, Metadata: { note: 'x' }, ContentType: 'application/x-test' }));
  const writer = new EncryptingS3Client({ client: s3Client(minio.endpoint), keyring });
  await writer.send(new PutObjectCommand({ Bucket, Key: 'encrypted', Body: data }));
  const store = await startStaticStore(minio.endpoint, [{ Bucket, Key: 'plain/a b+c' }, { Bucket, Key: 'encrypted' }]);
  const { ETag } = await plain.send(new HeadObjectCommand({ Bucket, Key: 'plain/a b+c' }));
  const size = data.length;
  const requests: [string, () => HeadObjectCommand | GetObjectCommand][] = [
    ['HEAD', () => new HeadObjectCommand({ Bucket, Key: 'plain/a b+c' })],
    ['GET whole', () => new GetObjectCommand({ Bucket, Key: 'plain/a b+c' })],
    ['GET suffix 256 KiB', () => new GetObjectCommand({ Bucket, Key: 'plain/a b+c', Range: 'bytes=-262144' })],
    ['GET suffix > size', () => new GetObjectCommand({ Bucket, Key: 'plain/a b+c', Range: `bytes=-${size + 10}` })],
    ['GET range, If-Match', () => new GetObjectCommand({ Bucket, Key: 'plain/a b+c', Range: 'bytes=1000-8389607', IfMatch: ETag })],
    ['GET range past end', () => new GetObjectCommand({ Bucket, Key: 'plain/a b+c', Range: `bytes=${size - 5}-${size + 5}` })],
    ['GET If-Match wrong', () => new GetObjectCommand({ Bucket, Key: 'plain/a b+c', Range: 'bytes=0-9', IfMatch: '"0123"' })],
    ['HEAD If-Match wrong', () => new HeadObjectCommand({ Bucket, Key: 'plain/a b+c', IfMatch: '"0123"' })],
    ['GET range not satisfiable', () => new GetObjectCommand({ Bucket, Key: 'plain/a b+c', Range: `bytes=${size}-${size + 5}` })],
    ['GET missing key', () => new GetObjectCommand({ Bucket, Key: 'nope' })],
  ];
  const clients = { minio: s3Client(minio.endpoint), static: s3Client(store.endpoint) };
  let differences = 0;
  try {
    for (const [name, command] of requests) {
      const seen: Record<string, string> = {};
      for (const [where, client] of Object.entries(clients)) {
        try {
          const output = (await client.send(command() as GetObjectCommand)) as unknown as Record<string, unknown> & { Body?: Readable };
          const body = output.Body ? createHash('sha256').update(Buffer.concat(await output.Body.toArray())).digest('hex').slice(0, 12) : '-';
          const { $metadata, ETag: etag, ContentRange, ContentLength, ContentType, LastModified, Metadata, VersionId } = output as Record<string, unknown>;
          seen[where] = JSON.stringify({ status: ($metadata as { httpStatusCode?: number }).httpStatusCode, etag, ContentRange, ContentLength, ContentType, LastModified, Metadata, VersionId, body });
        } catch (error) {
          const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
          seen[where] = JSON.stringify({ error: e.name, status: e.$metadata?.httpStatusCode });
        }
      }
      const same = seen.minio === seen.static;
      if (!same) differences++;
      console.log(`${same ? 'same' : 'DIFF'}  ${name}: ${seen.minio}${same ? '' : `\n      static: ${seen.static}`}`);
    }
    // s3crypt end to end against the copy: one GET and the parallel path (If-Match pinned ranges).
    const reader = new EncryptingS3Client({ client: s3Client(store.endpoint), keyring });
    for (const parallelReads of [false, { concurrency: 4, rangeSize: 8 * 1024 * 1024 }]) {
      const output = await reader.send(withS3Crypt(new GetObjectCommand({ Bucket, Key: 'encrypted' }), { parallelReads }));
      const ok = Buffer.concat(await (output.Body as Readable).toArray()).equals(data);
      if (!ok) differences++;
      console.log(`${ok ? 'same' : 'DIFF'}  s3crypt GET, parallelReads ${JSON.stringify(parallelReads)}: plaintext ${ok ? 'matches' : 'DIFFERS'}`);
    }
    reader.destroy();
    console.log(`store CPU for all of the above: ${store.cpuSeconds().toFixed(2)} s`);
  } finally {
    for (const client of Object.values(clients)) client.destroy();
    writer.destroy();
    plain.destroy();
    await store.stop();
    await minio.server.stop();
  }
  console.log(differences ? `${differences} differences` : 'the static store answered every request as MinIO did');
  if (differences) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--selftest')) await selftest();
