// A hostile S3 store for attack tests: an HTTP proxy on 127.0.0.1 in front of a real MinIO that lies
// in whatever way a test programs, per request.
//
// Why it exists: s3crypt's threat model makes the store the attacker. It may rewrite bytes and
// metadata, lie in status codes, ETags, lengths and Content-Range, and send more than was asked.
// MinIO is honest, so tests put this proxy between the client and MinIO and program the lies.
//
// What it does, and nothing more: every request is forwarded untouched (method, path, query, the
// raw headers including Host and the client's SigV4 signature, and the body, streamed), so MinIO
// checks the signature as if the client had called it directly. MinIO's answer goes back as is,
// streamed, unless a response rule rewrites its status, headers or body. A request rule may instead
// answer a request itself without asking MinIO. Every request is logged with the status the client
// was sent and how many body bytes. A response whose announced Content-Length may differ from the
// bytes actually sent closes the connection after it, so that the surplus (or shortfall) reaches the
// client as such instead of being read as the start of the next response on a kept-alive connection.
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './process.js';
import { pipeline } from 'node:stream/promises';
import type { S3Endpoint } from './minio.js';

/**
 * What a rule sees of a request: the key is decoded; query and headers are as the client sent them.
 *
 * @example
 * store.onResponse({ method: 'GET' }, (request) => (request.query.has('partNumber') ? { status: 200 } : undefined));
 */
export interface HostileRequest {
  readonly method: string;
  /** The raw path, without the query: `/<bucket>/<key>` (path-style). */
  readonly path: string;
  readonly bucket: string;
  /** The decoded object key; '' for bucket-level requests. */
  readonly key: string;
  readonly query: URLSearchParams;
  /** The `Range` header, if any. */
  readonly range: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/**
 * A request in the store's log, with the status the client was sent.
 *
 * @example
 * expect(store.requests.map((r) => [r.method, r.range, r.status])).toEqual([['GET', 'bytes=0-9', 206]]);
 */
export interface LoggedRequest extends HostileRequest {
  /** undefined while the answer is pending, or if the connection was dropped before one. */
  readonly status: number | undefined;
  /** Whether MinIO was asked or a request rule answered for it. */
  readonly answeredBy: 'minio' | 'proxy';
  /**
   * Body bytes the proxy has handed to the client's connection so far. It grows while a body streams
   * and stops when the client stops reading or hangs up; bytes still in the proxy's or the kernel's
   * socket buffers count as sent, so a client that reads nothing is still sent a few MiB at most.
   */
  readonly bodyBytesSent: number;
  /** Whether the client closed the connection before the whole answer was sent. */
  readonly hungUp: boolean;
}

/**
 * A response's status and headers as they stand when a rule runs (after earlier rules).
 *
 * @example
 * store.onResponse({ method: 'GET' }, (_request, head) => (head.status === 206 ? { status: 200 } : undefined));
 */
export interface ResponseHead {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A body produced lazily, chunk by chunk, only as fast as the client reads; `length` undefined means
 * unknown (sent chunked unless a Content-Length is set).
 *
 * @example
 * const twoChunks: BodyStream = { length: 8, *chunks() { yield Buffer.from('abcd'); yield Buffer.from('efgh'); } };
 */
export interface BodyStream {
  readonly length: number | undefined;
  chunks(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/**
 * New bytes, a lazy stream, or a function of the body as it stands (MinIO's bytes, or an earlier
 * rule's; read whole first, so meant for small bodies) that returns new bytes or a lazy stream.
 *
 * @example
 * const flipFirstByte: BodyRewrite = (body) => Buffer.concat([Buffer.from([body[0]! ^ 1]), body.subarray(1)]);
 */
export type BodyRewrite = Uint8Array | BodyStream | ((current: Buffer) => Uint8Array | BodyStream);

/**
 * What a response rule changes; anything left out stays as it was.
 *
 * @example
 * store.onResponse({ method: 'GET' }, () => ({ status: 200, headers: { 'content-range': null }, body: Buffer.from('x') }));
 */
export interface ResponseRewrite {
  readonly status?: number;
  /**
   * Headers to set (lower-case names); null removes one. A rule that sets `content-length` announces
   * that value whatever the body is; otherwise a rewritten body is announced with its own length
   * (chunked if unknown). Removing `content-length` sends the body chunked.
   */
  readonly headers?: Readonly<Record<string, string | null>>;
  readonly body?: BodyRewrite;
}

/**
 * Rewrites MinIO's response to a request, or returns undefined to leave it alone. A rule that throws
 * drops the client's connection.
 *
 * @example
 * const lieOnLargeObjects: ResponseRule = (_request, head) => (Number(head.headers['content-length']) > 1000 ? { status: 500 } : undefined);
 */
export type ResponseRule = (request: HostileRequest, response: ResponseHead) => ResponseRewrite | undefined | Promise<ResponseRewrite | undefined>;

/**
 * A response the proxy sends itself, without asking MinIO.
 *
 * @example
 * store.onRequest({ method: 'HEAD', key: 'a' }, () => ({ status: 200, headers: { 'content-length': '5', etag: '"x"' } }));
 */
export interface ProxyAnswer {
  readonly status: number;
  /** Lower-case names; `content-length` is the body's own length unless set here. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | BodyStream;
}

/**
 * Answers a request itself, or returns undefined to forward it to MinIO.
 *
 * @example
 * const refuseParts: RequestRule = (request) => (request.query.has('partNumber') ? s3Error(416, 'InvalidPartNumber') : undefined);
 */
export type RequestRule = (request: HostileRequest) => ProxyAnswer | undefined;

/**
 * Which requests a rule applies to; every field given must match, so `{}` matches all.
 *
 * @example
 * const rangedGetsOfA: RequestMatch = { method: 'GET', key: 'a', ranged: true };
 */
export interface RequestMatch {
  readonly method?: string;
  readonly bucket?: string;
  readonly key?: string | RegExp;
  /** true: only requests with a Range header; false: only those without. */
  readonly ranged?: boolean;
  /** The Range header exactly (e.g. `bytes=-262144`), or a pattern it must match; implies `ranged`. */
  readonly range?: string | RegExp;
  /** A query parameter the request must carry, e.g. `uploadId` or `partNumber`. */
  readonly query?: string;
}

/**
 * A running hostile store: its endpoint, its request log, and the rules that make it lie.
 *
 * @example
 * store.onResponse({ method: 'GET', ranged: true }, appendBytes(Buffer.alloc(16)));
 * await getBody(s3Client(store.endpoint), bucket, 'a', { Range: 'bytes=0-9' });
 * expect(store.count({ method: 'GET' })).toBe(1);
 * store.reset();
 */
export interface HostileStore {
  /** The proxy, with the upstream's credentials, for `s3Client()`. */
  readonly endpoint: S3Endpoint;
  /** Every request since start or the last reset(), oldest first. */
  readonly requests: readonly LoggedRequest[];
  /** How many logged requests match. */
  count(match: RequestMatch): number;
  /** Adds a response rule for matching requests; rules run in the order added. Returns a remover. */
  onResponse(match: RequestMatch, rule: ResponseRule): () => void;
  /** Adds a request rule for matching requests; the first answer wins. Returns a remover. */
  onRequest(match: RequestMatch, rule: RequestRule): () => void;
  /** Removes every rule and clears the log. */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Starts a hostile store in front of `upstream` on 127.0.0.1, on a random port.
 *
 * @example
 * const store = await startHostileStore(inject('s3'));
 * store.onResponse({ method: 'GET', key: 'a' }, setMetadata('s3crypt-v', 'forged'));
 * const client = s3Client(store.endpoint);
 */
export async function startHostileStore(upstream: S3Endpoint): Promise<HostileStore> {
  const target = new URL(upstream.endpoint);
  const agent = new Agent({ keepAlive: true });
  const requests: Array<{ -readonly [K in keyof LoggedRequest]: LoggedRequest[K] }> = [];
  let responseRules: Array<{ match: RequestMatch; rule: ResponseRule }> = [];
  let requestRules: Array<{ match: RequestMatch; rule: RequestRule }> = [];

  const forward = (req: IncomingMessage): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const outgoing = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.rawHeaders, agent }, resolve);
      outgoing.on('error', reject);
      pipeline(req, outgoing).catch(reject);
    });

  const rewrite = async (described: HostileRequest, answer: IncomingMessage): Promise<Outgoing> => {
    let head: ResponseHead = { status: answer.statusCode ?? 502, headers: flatten(answer.headers) };
    let announced = false;
    const bodySteps: BodyRewrite[] = [];
    for (const { match, rule } of responseRules) {
      if (!matches(described, match)) continue;
      const change = await rule(described, head);
      if (!change) continue;
      if (change.headers && 'content-length' in change.headers) announced = true;
      if (change.body !== undefined) bodySteps.push(change.body);
      head = { status: change.status ?? head.status, headers: applyHeaders(head.headers, change.headers ?? {}) };
    }
    if (!hasBody(described.method, head.status)) {
      answer.resume();
      return { ...head, body: undefined };
    }
    const body = await applyBodySteps({ length: declaredLength(answer.headers), source: answer }, answer, bodySteps);
    return { ...head, body, announced: announced || bodySteps.length === 0 };
  };

  const ownAnswer = (described: HostileRequest): ProxyAnswer | undefined => {
    for (const { match, rule } of requestRules) {
      const answer = matches(described, match) ? rule(described) : undefined;
      if (answer) return answer;
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const described = describe(req);
    const own = ownAnswer(described);
    const entry = { ...described, status: undefined as number | undefined, answeredBy: own ? ('proxy' as const) : ('minio' as const), bodyBytesSent: 0, hungUp: false };
    requests.push(entry);
    res.on('close', () => (entry.hungUp = !res.writableFinished));
    const countSent = (bytes: number) => (entry.bodyBytesSent += bytes);
    if (own) {
      req.resume();
      entry.status = own.status;
      return send(res, ownResponse(described.method, own), countSent);
    }
    const answer = await forward(req);
    try {
      const outgoing = await rewrite(described, answer);
      entry.status = outgoing.status;
      await send(res, outgoing, countSent);
    } finally {
      answer.destroy();
    }
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
    count: (match) => requests.filter((logged) => matches(logged, match)).length,
    onResponse(match, rule) {
      const added = { match, rule };
      responseRules.push(added);
      return () => (responseRules = responseRules.filter((r) => r !== added));
    },
    onRequest(match, rule) {
      const added = { match, rule };
      requestRules.push(added);
      return () => (requestRules = requestRules.filter((r) => r !== added));
    },
    reset() {
      responseRules = [];
      requestRules = [];
      requests.length = 0;
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
 * Whether `request` matches every field given in `match`.
 *
 * @example
 * store.requests.filter((r) => matches(r, { method: 'GET', key: 'a', ranged: true }));
 */
export function matches(request: HostileRequest, match: RequestMatch): boolean {
  if (match.method !== undefined && request.method !== match.method.toUpperCase()) return false;
  if (match.bucket !== undefined && request.bucket !== match.bucket) return false;
  if (typeof match.key === 'string' && request.key !== match.key) return false;
  if (match.key instanceof RegExp && !match.key.test(request.key)) return false;
  if (match.ranged !== undefined && (request.range !== undefined) !== match.ranged) return false;
  if (typeof match.range === 'string' && request.range !== match.range) return false;
  if (match.range instanceof RegExp && (request.range === undefined || !match.range.test(request.range))) return false;
  if (match.query !== undefined && !request.query.has(match.query)) return false;
  return true;
}

/**
 * How a rewritten body's length is announced: its own length, the Content-Length the response had
 * before, none (chunked), or any number.
 *
 * @example
 * store.onResponse({ method: 'GET' }, replaceBody(Buffer.alloc(10), 'unchanged'));
 */
export type LengthAnnouncement = 'actual' | 'unchanged' | 'chunked' | number;

/**
 * Sets or (with null) removes response headers.
 *
 * @example
 * store.onResponse({ method: 'HEAD' }, setHeaders({ 'content-type': 'text/html', 'x-amz-version-id': null }));
 */
export function setHeaders(headers: Readonly<Record<string, string | null>>): ResponseRule {
  return () => ({ headers });
}

/**
 * Sets a metadata header `x-amz-meta-<name>` (lower-case name, as S3 stores it).
 *
 * @example
 * store.onResponse({ key: 'a' }, setMetadata('s3crypt-envelope', 'forged'));
 */
export function setMetadata(name: string, value: string): ResponseRule {
  return setHeaders({ [metadataHeader(name)]: value });
}

/**
 * Removes the metadata header `x-amz-meta-<name>`.
 *
 * @example
 * store.onResponse({ method: 'GET' }, stripMetadata('s3crypt-envelope'));
 */
export function stripMetadata(name: string): ResponseRule {
  return setHeaders({ [metadataHeader(name)]: null });
}

/**
 * Moves the value of metadata `from` to metadata `to`; no change if `from` is absent.
 *
 * @example
 * store.onResponse({ key: 'a' }, renameMetadata('s3crypt-envelope', 'x-other'));
 */
export function renameMetadata(from: string, to: string): ResponseRule {
  return (_request, { headers }) => {
    const value = headers[metadataHeader(from)];
    return value === undefined ? undefined : { headers: { [metadataHeader(from)]: null, [metadataHeader(to)]: value } };
  };
}

/**
 * Removes every `x-amz-checksum-*` header. The SDK checks a whole-object GET's body against them, so
 * a forged body that should reach the caller's code needs this too, as a real attacker would do.
 *
 * @example
 * store.onResponse({ method: 'GET', key: 'a' }, replaceBody(forged));
 * store.onResponse({ method: 'GET', key: 'a' }, stripChecksums());
 */
export function stripChecksums(): ResponseRule {
  return (_request, { headers }) => ({
    headers: Object.fromEntries(Object.keys(headers).filter((name) => name.startsWith('x-amz-checksum-')).map((name) => [name, null])),
  });
}

/**
 * Replaces the status code, keeping headers and body.
 *
 * @example
 * store.onResponse({ method: 'GET', ranged: true }, setStatus(200));
 */
export function setStatus(status: number): ResponseRule {
  return () => ({ status });
}

/**
 * Replaces the ETag header (give the quotes too, as S3 sends them).
 *
 * @example
 * store.onResponse({ method: 'HEAD' }, setEtag('"0123456789abcdef0123456789abcdef"'));
 */
export function setEtag(etag: string): ResponseRule {
  return setHeaders({ etag });
}

/**
 * Replaces the total in `Content-Range: bytes a-b/total`; no change without a Content-Range.
 *
 * @example
 * store.onResponse({ method: 'GET', ranged: true }, setContentRangeTotal(10 ** 12));
 */
export function setContentRangeTotal(total: number | '*'): ResponseRule {
  return (_request, { headers }) => {
    const range = headers['content-range'];
    if (range === undefined) return undefined;
    const slash = range.lastIndexOf('/');
    return { headers: { 'content-range': `${slash < 0 ? range : range.slice(0, slash)}/${total}` } };
  };
}

/**
 * Replaces the body, announcing its own length unless told otherwise (a lying length is an attack too).
 *
 * @example
 * store.onResponse({ method: 'GET', key: 'a' }, replaceBody(Buffer.from('forged')));
 * store.onResponse({ method: 'GET', ranged: true }, replaceBody(lazyBytes(768 * 2 ** 20)));
 */
export function replaceBody(body: Uint8Array | BodyStream, length: LengthAnnouncement = 'actual'): ResponseRule {
  return (_request, head) => ({ body, headers: announce(length, head) });
}

/**
 * Sends `extra` after the body, e.g. more bytes than a Range asked for; announced as the longer
 * length unless told otherwise (`'unchanged'` keeps the old Content-Length, so the surplus follows it).
 * A lazy `extra` is streamed after the body as the client reads, never held in memory.
 *
 * @example
 * store.onResponse({ method: 'GET', ranged: true }, appendBytes(Buffer.alloc(16)));
 * store.onResponse({ method: 'GET', ranged: true }, appendBytes(lazyBytes(768 * 2 ** 20), 'chunked'));
 */
export function appendBytes(extra: Uint8Array | BodyStream, length: LengthAnnouncement = 'actual'): ResponseRule {
  const append = (current: Buffer): Uint8Array | BodyStream => (extra instanceof Uint8Array ? Buffer.concat([current, extra]) : concatenated(current, extra));
  return (_request, head) => ({ body: append, headers: announce(length, head) });
}

/**
 * `length` bytes of `fill`, generated chunk by chunk as the client reads, never held in memory.
 *
 * @example
 * store.onRequest({ method: 'GET', ranged: true }, () => ({ status: 206, body: lazyBytes(768 * 2 ** 20) }));
 */
export function lazyBytes(length: number, fill = 0): BodyStream {
  const chunk = Buffer.alloc(Math.min(length, 64 * 1024), fill);
  return {
    length,
    *chunks() {
      for (let sent = 0; sent < length; sent += chunk.length) yield chunk.subarray(0, Math.min(chunk.length, length - sent));
    },
  };
}

/**
 * An S3 error answer (`<Error><Code>…`), as S3 sends it, for a request rule.
 *
 * @example
 * store.onRequest({ method: 'GET', ranged: true }, () => s3Error(416, 'InvalidRange'));
 */
export function s3Error(status: number, code: string, message = code): ProxyAnswer {
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  return { status, headers: { 'content-type': 'application/xml' }, body };
}

/**
 * A rule that applies to the first matching request only.
 *
 * @example
 * store.onResponse({ method: 'GET' }, once(setStatus(503)));
 */
export function once<A extends unknown[], R>(rule: (...args: A) => R): (...args: A) => R | undefined {
  let used = false;
  return (...args) => {
    if (used) return undefined;
    used = true;
    return rule(...args);
  };
}

function concatenated(first: Uint8Array, rest: BodyStream): BodyStream {
  return {
    length: rest.length === undefined ? undefined : first.length + rest.length,
    async *chunks() {
      yield first;
      yield* rest.chunks();
    },
  };
}

function metadataHeader(name: string): string {
  return `x-amz-meta-${name.toLowerCase()}`;
}

function announce(length: LengthAnnouncement, head: ResponseHead): Record<string, string | null> {
  if (length === 'actual') return {};
  if (length === 'chunked') return { 'content-length': null };
  if (length === 'unchanged') return { 'content-length': head.headers['content-length'] ?? null };
  return { 'content-length': String(length) };
}

interface Body {
  readonly length: number | undefined;
  readonly source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

interface Outgoing extends ResponseHead {
  /** undefined: the response has no body (HEAD, 204, 304). */
  readonly body: Body | undefined;
  /** Whether `content-length` in `headers` is what the rules (or upstream) say rather than the body's own length. */
  readonly announced?: boolean;
}

async function send(res: ServerResponse, { status, headers, body, announced }: Outgoing, countSent: (bytes: number) => void): Promise<void> {
  const final: Record<string, string> = { ...headers };
  if (body && !announced) {
    if (body.length === undefined) delete final['content-length'];
    else final['content-length'] = String(body.length);
  }
  const length = final['content-length'];
  if (body && length !== undefined && Number(length) !== body.length) final.connection = 'close';
  res.writeHead(status, final);
  if (!body) {
    res.end();
    return;
  }
  await pipeline(counted(body.source, countSent), res);
}

async function* counted(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, countSent: (bytes: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    countSent(chunk.length);
    yield chunk;
  }
}

async function applyBodySteps(body: Body, upstream: IncomingMessage, steps: readonly BodyRewrite[]): Promise<Body> {
  let current = body;
  for (const step of steps) {
    if (typeof step === 'function') {
      current = asStreamBody(step(await readAll(current.source)));
    } else {
      if (current.source === upstream) upstream.destroy();
      current = asStreamBody(step);
    }
  }
  return current;
}

function asStreamBody(body: Uint8Array | BodyStream): Body {
  if (body instanceof Uint8Array) return { length: body.length, source: [body] };
  return { length: body.length, source: body.chunks() };
}

function ownResponse(method: string, { status, headers = {}, body }: ProxyAnswer): Outgoing {
  return {
    status,
    headers,
    body: hasBody(method, status) ? asStreamBody(body ?? new Uint8Array()) : undefined,
    announced: 'content-length' in headers,
  };
}

function hasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200;
}

function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  return value === undefined ? undefined : Number(value);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function applyHeaders(headers: Readonly<Record<string, string>>, changes: Readonly<Record<string, string | null>>): Record<string, string> {
  const next: Record<string, string> = { ...headers };
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete next[name.toLowerCase()];
    else next[name.toLowerCase()] = value;
  }
  return next;
}

function describe(req: IncomingMessage): HostileRequest {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const [, bucket = '', ...key] = url.pathname.split('/');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    bucket: decodeOrRaw(bucket),
    key: decodeOrRaw(key.join('/')),
    query: url.searchParams,
    range: req.headers.range,
    headers: req.headers,
  };
}

function decodeOrRaw(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function readAll(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}
