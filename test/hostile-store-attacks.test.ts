// The attack suite: EncryptingS3Client against real MinIO through the hostile-store proxy
// (test/harness/hostile-store.ts), which plays the store of our threat model and lies per request.
// Each attack asserts the typed error; a counting keyring asserts the bounds on keyring (KMS) calls.
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { EncryptingS3Client, MultiKeyring, RawAesKeyring, RsaKeyring, s3cryptInfo, withS3Crypt, type DecryptRequest, type EncryptRequest, type Keyring } from '@s3crypt/client';
import { getBody, markedBytes } from './harness/clients.js';
import { rsaOaepEdk, writeIndependently } from './harness/independent-writer.js';
import { lazyBytes, renameMetadata, replaceBody, setMetadata, startHostileStore, stripChecksums, stripMetadata, type HostileRequest, type HostileStore, type ProxyAnswer } from './harness/hostile-store.js';
import { freshBucket, s3Client } from './harness/minio.js';

const ENVELOPE = 's3crypt-envelope';

/** Counts keyring decrypt calls: each would be one KMS request. */
class CountingKeyring implements Keyring {
  calls = 0;
  constructor(private readonly inner: RawAesKeyring) {}
  onEncrypt(request: EncryptRequest) {
    return this.inner.onEncrypt(request);
  }
  onDecrypt(request: DecryptRequest) {
    this.calls++;
    return this.inner.onDecrypt(request);
  }
  kekMatchers() {
    return this.inner.kekMatchers();
  }
}

/** A stored object as the store holds it, to serve again later (a rollback, a replacement). */
interface Captured {
  readonly body: Buffer;
  readonly metadata: Record<string, string>;
  readonly etag: string;
}

/** Answers a GET or HEAD with `object` as if the store held it, honouring the Range the client asked for. */
function serve(object: Captured) {
  return (request: HostileRequest): ProxyAnswer => {
    const headers: Record<string, string> = { etag: object.etag, 'content-type': 'application/octet-stream', 'last-modified': new Date().toUTCString() };
    for (const [name, value] of Object.entries(object.metadata)) headers[`x-amz-meta-${name}`] = value;
    const total = object.body.length;
    if (request.method === 'HEAD') return { status: 200, headers: { ...headers, 'content-length': String(total) } };
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.range ?? '');
    if (!range) return { status: 200, headers, body: object.body };
    const [, first = '', last = ''] = range;
    const start = first === '' ? Math.max(0, total - Number(last)) : Number(first);
    const end = first === '' || last === '' ? total - 1 : Math.min(Number(last), total - 1);
    return { status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${total}` }, body: object.body.subarray(start, end + 1) };
  };
}

let store: HostileStore;
let direct: S3Client;
let viaStore: S3Client;
let bucket: string;
let keyring: CountingKeyring;
let client: EncryptingS3Client;

async function capture(key: string): Promise<Captured> {
  const head = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { body: await getBody(direct, bucket, key), metadata: head.Metadata ?? {}, etag: head.ETag ?? '""' };
}

beforeAll(async () => {
  store = await startHostileStore(inject('s3'));
  direct = s3Client(inject('s3'));
  viaStore = s3Client(store.endpoint);
  bucket = await freshBucket(direct, 'attacks');
  keyring = new CountingKeyring(new RawAesKeyring({ keyName: 'attack-test-key', masterKey: randomBytes(32) }));
  client = new EncryptingS3Client({ client: viaStore, keyring });
});
afterEach(() => {
  store.reset();
  keyring.calls = 0;
});
afterAll(async () => {
  client.destroy();
  direct.destroy();
  await store.stop();
});

describe('rollback and mixed versions', () => {
  it('an older write served for the current one is refused when the caller demands the identity it stored', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'rollback', Body: 'first write' }));
    const older = await capture('rollback');
    const current = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'rollback', Body: 'second write' }));
    const expectedObjectId = s3cryptInfo(current)!.objectId!;
    store.onRequest({ key: 'rollback' }, serve(older));
    // Without the identity the older write is indistinguishable from a current one (SECURITY.md, "out of scope").
    expect((await getBody(client, bucket, 'rollback')).toString()).toBe('first write');
    await expect(client.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'rollback' }), { expectedObjectId }))).rejects.toMatchObject({ code: 'ERR_OBJECT_ID_MISMATCH' });
    await expect(client.send(withS3Crypt(new HeadObjectCommand({ Bucket: bucket, Key: 'rollback' }), { expectedObjectId }))).rejects.toMatchObject({ code: 'ERR_OBJECT_ID_MISMATCH' });
  });

  it('a hybrid of two writes (one envelope, the other body) fails authentication', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'hybrid', Body: markedBytes(1000, 1) }));
    const older = await capture('hybrid');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'hybrid', Body: markedBytes(1000, 2) }));
    store.onResponse({ key: 'hybrid' }, setMetadata(ENVELOPE, older.metadata[ENVELOPE]!));
    store.onResponse({ key: 'hybrid' }, stripChecksums());
    await expect(getBody(client, bucket, 'hybrid')).rejects.toMatchObject({ code: 'ERR_DECRYPTION_FAILED' });
  });

  it('an object replaced by another object of the bucket (its own envelope and body) is refused', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'victim', Body: 'victim' }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'other', Body: 'other' }));
    store.onRequest({ key: 'victim' }, serve(await capture('other')));
    await expect(getBody(client, bucket, 'victim')).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_(KEY_UNWRAP_FAILED|HEADER_AUTH_FAILED)$/) });
  });
});

describe('key-call amplification', () => {
  async function storedV2(key: string) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'genuine' }));
    return capture(key);
  }

  /** The envelope with `count` junk EDKs naming the trusted key put in front (the header tag is kept). */
  function stuffed(envelope: string, count: number): string {
    const raw = Buffer.from(envelope, 'base64');
    // Layout (v2 suite 1): version, suite, segmentSize(4), messageId(32), commitment(32), edkCount, EDKs…, tag(32).
    const countAt = 1 + 1 + 4 + 32 + 32;
    const junk: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const provider = Buffer.from('raw-aes');
      const keyId = Buffer.from('attack-test-key');
      const ciphertext = randomBytes(60);
      junk.push(Buffer.from([provider.length]), provider, Buffer.from([0, keyId.length]), keyId, Buffer.from([0, ciphertext.length]), ciphertext);
    }
    return Buffer.concat([raw.subarray(0, countAt), Buffer.from([Math.min(255, (raw[countAt] as number) + count)]), ...junk, raw.subarray(countAt + 1)]).toString('base64');
  }

  it('a stuffed envelope (up to the ~16 KiB Node accepts in a header) costs no keyring call', async () => {
    const object = await storedV2('stuffed');
    for (const count of [20, 120]) {
      store.reset();
      store.onResponse({ key: 'stuffed' }, setMetadata(ENVELOPE, stuffed(object.metadata[ENVELOPE]!, count)));
      await expect(getBody(client, bucket, 'stuffed')).rejects.toMatchObject({ code: 'ERR_TOO_MANY_ENCRYPTED_KEYS' });
      await expect(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'stuffed' }))).rejects.toMatchObject({ code: 'ERR_TOO_MANY_ENCRYPTED_KEYS' });
    }
    expect(keyring.calls).toBe(0);
  });

  it('an oversized metadata header (254 wrapped keys) is refused by the HTTP layer, also with no keyring call', async () => {
    const object = await storedV2('oversized');
    store.onResponse({ key: 'oversized' }, setMetadata(ENVELOPE, stuffed(object.metadata[ENVELOPE]!, 254)));
    await expect(getBody(client, bucket, 'oversized')).rejects.toThrow(/Header overflow/);
    expect(keyring.calls).toBe(0);
  });

  it('junk wrapped keys within the cap cost at most maxUnwrapAttempts keyring calls, and v2 refuses the edit', async () => {
    const object = await storedV2('junk');
    store.onResponse({ key: 'junk' }, setMetadata(ENVELOPE, stuffed(object.metadata[ENVELOPE]!, 6)));
    await expect(getBody(client, bucket, 'junk')).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_(KEY_UNWRAP_FAILED|HEADER_AUTH_FAILED)$/) });
    expect(keyring.calls).toBeLessThanOrEqual(3);
  });

  it('wrapped keys naming untrusted KEKs cost no keyring call at all', async () => {
    const object = await storedV2('untrusted');
    const renamed = Buffer.from(object.metadata[ENVELOPE]!, 'base64');
    const id = renamed.indexOf(Buffer.from('attack-test-key'));
    renamed.write('attack-TEST-key', id);
    store.onResponse({ key: 'untrusted' }, setMetadata(ENVELOPE, renamed.toString('base64')));
    await expect(getBody(client, bucket, 'untrusted')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ALLOWED' });
    expect(keyring.calls).toBe(0);
  });
});

describe('loose parsing', () => {
  it('an unpadded or otherwise non-canonical envelope is malformed', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'base64', Body: 'x' }));
    const { metadata } = await capture('base64');
    const value = metadata[ENVELOPE]!;
    const noncanonical = value.endsWith('=') ? value.replace(/=+$/, '') : `${value.slice(0, -1)}${String.fromCharCode(value.charCodeAt(value.length - 1) ^ 1)}=`;
    store.onResponse({ key: 'base64' }, setMetadata(ENVELOPE, noncanonical));
    await expect(getBody(client, bucket, 'base64')).rejects.toMatchObject({ code: 'ERR_ENVELOPE_MALFORMED' });
  });

  it('key ids with control, format or separator characters are malformed, and never echoed', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'keyid', Body: 'x' }));
    const { metadata } = await capture('keyid');
    const raw = Buffer.from(metadata[ENVELOPE]!, 'base64');
    const original = Buffer.from('attack-test-key');
    for (const evil of ['attack\u2028evil', 'attack\u202eevil', 'attack\x7fevil', 'attack\u0085evil']) {
      const replacement = Buffer.from(evil, 'utf8');
      const at = raw.indexOf(original);
      const edited = Buffer.concat([raw.subarray(0, at - 2), Buffer.from([0, replacement.length]), replacement, raw.subarray(at + original.length)]);
      store.reset();
      store.onResponse({ key: 'keyid' }, setMetadata(ENVELOPE, edited.toString('base64')));
      const error = await getBody(client, bucket, 'keyid').catch((e: unknown) => e as Error);
      expect(error).toMatchObject({ code: 'ERR_ENVELOPE_MALFORMED' });
      expect((error as Error).message).not.toMatch(/[\u2028\u202e\x7f\u0085]/);
    }
  });
});

describe('public-key forgery', () => {
  // The reader holds an RSA key pair; the attacker (the store) holds only its public key, and builds
  // a whole object from scratch with the independent writer (test/harness/independent-writer.ts),
  // not with the client's own write path.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const writer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const aesMaster = randomBytes(32);
  const rsaReader = () => new RsaKeyring({ keyName: 'archive', publicKey: rsa.publicKey, privateKey: rsa.privateKey });
  const multiReader = () => new MultiKeyring({ generator: new RawAesKeyring({ keyName: 'primary', masterKey: aesMaster }), children: [rsaReader()] });

  function forge(key: string, version: 1 | 2, signingKey?: typeof attacker.privateKey) {
    const forged = writeIndependently({
      bucket,
      key,
      parts: [{ partNumber: 1, plaintext: Buffer.from('attacker content') }],
      segmentSize: 4096,
      version,
      edks: [rsaOaepEdk('archive', rsa.publicKey)],
      ...(signingKey ? { signingKey } : {}),
    });
    return { body: forged.body, metadata: forged.metadata, etag: '"forged"' };
  }

  it('an object the store builds from the public key is refused by RsaKeyring and MultiKeyring readers (GET, range, HEAD)', async () => {
    await new EncryptingS3Client({ client: direct, keyring: multiReader() }).send(new PutObjectCommand({ Bucket: bucket, Key: 'forged', Body: 'genuine' }));
    for (const version of [1, 2] as const) {
      store.reset();
      store.onRequest({ key: 'forged' }, serve(forge('forged', version)));
      for (const keyring of [rsaReader(), multiReader()]) {
        const reader = new EncryptingS3Client({ client: viaStore, keyring });
        await expect(getBody(reader, bucket, 'forged')).rejects.toMatchObject({ code: 'ERR_UNSIGNED_OBJECT' });
        await expect(getBody(reader, bucket, 'forged', { Range: 'bytes=0-3' })).rejects.toMatchObject({ code: 'ERR_UNSIGNED_OBJECT' });
        await expect(reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'forged' }))).rejects.toMatchObject({ code: 'ERR_UNSIGNED_OBJECT' });
      }
    }
  });

  it('signed by the attacker\'s own key, the forgery is refused by a reader pinning the genuine writer', async () => {
    store.onRequest({ key: 'forged-signed' }, serve(forge('forged-signed', 2, attacker.privateKey)));
    const reader = new EncryptingS3Client({ client: viaStore, keyring: rsaReader(), keyPolicy: { verificationKeys: [writer.publicKey] } });
    await expect(getBody(reader, bucket, 'forged-signed')).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
  });

  it('the genuine signed writer is accepted; the explicit opt-in accepts anyone holding the public key', async () => {
    const genuine = new EncryptingS3Client({ client: direct, keyring: rsaReader(), signingKey: writer.privateKey });
    await genuine.send(new PutObjectCommand({ Bucket: bucket, Key: 'rsa-signed', Body: 'signed by the writer' }));
    const pinned = new EncryptingS3Client({ client: viaStore, keyring: rsaReader(), keyPolicy: { verificationKeys: [writer.publicKey] } });
    expect((await getBody(pinned, bucket, 'rsa-signed')).toString()).toBe('signed by the writer');
    store.onRequest({ key: 'forged-accepted' }, serve(forge('forged-accepted', 2)));
    const trusting = new EncryptingS3Client({ client: viaStore, keyring: rsaReader(), keyPolicy: { acceptUnsignedPublicKeyWrapping: true } });
    expect((await getBody(trusting, bucket, 'forged-accepted')).toString()).toBe('attacker content');
  });
});

describe('plaintext downgrade', () => {
  const inSelection = () => new EncryptingS3Client({ client: viaStore, keyring, allowPlaintextReads: [{ bucket, prefix: 'migrating/' }] });

  it('an encrypted object with its envelope stripped is not plaintext outside the selection (GET, range, HEAD, Copy)', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'downgrade', Body: markedBytes(5000) }));
    store.onResponse({ key: 'downgrade' }, stripMetadata(ENVELOPE));
    for (const reader of [client, inSelection()]) {
      await expect(getBody(reader, bucket, 'downgrade')).rejects.toMatchObject({ code: 'ERR_NOT_ENCRYPTED' });
      await expect(getBody(reader, bucket, 'downgrade', { Range: 'bytes=0-10' })).rejects.toMatchObject({ code: 'ERR_NOT_ENCRYPTED' });
      await expect(reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'downgrade' }))).rejects.toMatchObject({ code: 'ERR_NOT_ENCRYPTED' });
      await expect(reader.send(new CopyObjectCommand({ Bucket: bucket, Key: 'downgrade-copy', CopySource: `${bucket}/downgrade` }))).rejects.toMatchObject({ code: 'ERR_NOT_ENCRYPTED' });
    }
    await expect(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'downgrade-copy' }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('a renamed envelope is never plaintext, even inside the selection', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'migrating/renamed', Body: markedBytes(5000) }));
    store.onResponse({ key: 'migrating/renamed' }, renameMetadata(ENVELOPE, 's3crypt-envelope-old'));
    await expect(getBody(inSelection(), bucket, 'migrating/renamed')).rejects.toMatchObject({ code: 'ERR_ENVELOPE_MALFORMED' });
    await expect(inSelection().send(new HeadObjectCommand({ Bucket: bucket, Key: 'migrating/renamed' }))).rejects.toMatchObject({ code: 'ERR_ENVELOPE_MALFORMED' });
  });

  it('inside the selection a stripped envelope is read, and flagged as a plaintext read', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'migrating/stripped', Body: 'x' }));
    store.onResponse({ key: 'migrating/stripped' }, stripMetadata(ENVELOPE));
    const response = await inSelection().send(new GetObjectCommand({ Bucket: bucket, Key: 'migrating/stripped' }));
    await response.Body!.transformToByteArray();
    expect(s3cryptInfo(response)).toEqual({ encrypted: false });
  });
});

describe('unbounded first read', () => {
  it('768 MiB sent for the 256 KiB tail request fails typed, with memory bounded by the request', async () => {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'flood', Body: 'small' }));
    store.onResponse({ key: 'flood', ranged: true }, replaceBody(lazyBytes(768 * 1024 * 1024), 'chunked'));
    const before = process.memoryUsage();
    await expect(getBody(client, bucket, 'flood')).rejects.toMatchObject({ code: 'ERR_RESPONSE_TOO_LARGE' });
    const after = process.memoryUsage();
    expect(after.rss + after.arrayBuffers - (before.rss + before.arrayBuffers)).toBeLessThan(64 * 1024 * 1024);
  });
});
