// Reading AWS S3 Encryption Client objects through EncryptingS3Client, against what the official
// Python client 4.0.0 (test/harness/s3ec-peer.ts) writes on MinIO with its KMS keyring on moto: V3
// and V2, every size and its multipart path, whole reads (in memory, two-pass and delayed
// authentication), HeadObject lengths, CopyObject, instruction files, the commitment policy, the
// caller's encryption context, ranges, and tampering of every stored part.
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EncryptingS3Client, MultiKeyring, RawAesKeyring, rotateKeys, S3CryptError, s3cryptInfo, verifyObject, withS3Crypt, type S3ecOptions } from '@s3crypt/client';
import { randomBytes } from 'node:crypto';
import { AwsKmsKeyring } from '@s3crypt/kms-aws';
import { cliEnvironment, runCli } from './harness/cli.js';
import { peerGet, peerPut, startPeerFixture, writePeerObjects, type PeerFixture, type PeerObject, type PeerServers } from './harness/s3ec-peer.js';

const MiB = 1024 * 1024;

let fixture: PeerFixture;
let kms: KMSClient;
let plain: S3Client;
let servers: PeerServers;
let bucket: string;
let keyArn: string;
let objects: PeerObject[];

function reader(s3ec: S3ecOptions | null = { commitmentPolicy: 'require-encrypt-allow-decrypt', singlePassLimit: MiB }, extra: Partial<ConstructorParameters<typeof EncryptingS3Client>[0]> = {}) {
  return new EncryptingS3Client({ client: plain, keyring: new AwsKmsKeyring({ keyId: keyArn, client: kms }), ...(s3ec ? { s3ec } : {}), ...extra });
}

async function read(client: EncryptingS3Client, key: string, extra: Record<string, unknown> = {}): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(S3CryptError);
    return (error as S3CryptError).code;
  }
  throw new Error('expected a typed failure');
}

/** A copy of a peer object at `key` with its stored bytes or metadata altered: a tampering store. */
async function tampered(source: PeerObject, key: string, change: { byte?: number; metadata?: (m: Record<string, string>) => Record<string, string> }): Promise<void> {
  const out = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: source.key }));
  const bytes = Buffer.from(await out.Body!.transformToByteArray());
  if (change.byte !== undefined) bytes[(bytes.length + change.byte) % bytes.length]! ^= 0x01;
  const metadata = change.metadata ? change.metadata({ ...out.Metadata }) : out.Metadata;
  await plain.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, Metadata: metadata }));
}

beforeAll(async () => {
  fixture = await startPeerFixture(inject('s3'), 's3ec-read', 's3crypt S3EC reader test');
  ({ kms, plain, servers, bucket, keyArn } = fixture);
  objects = await writePeerObjects(servers, { bucket, kmsKeyId: keyArn });
}, 300_000);

afterAll(() => fixture?.stop());

describe('objects the official Python client wrote', () => {
  it('every size, V3 and V2, single and multipart, reads back identical; HeadObject reports the plaintext length', async () => {
    const client = reader();
    for (const object of objects) {
      expect((await read(client, object.key)).equals(object.plaintext), object.key).toBe(true);
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: object.key }));
      expect(head.ContentLength, object.key).toBe(object.plaintext.length);
      // The S3EC content metadata is the format's, not the caller's.
      expect(Object.keys(head.Metadata ?? {}).filter((name) => name.startsWith('x-amz-'))).toEqual([]);
    }
  });

  it('large objects read the same in one pass held in memory, in two passes, and with delayed authentication', async () => {
    const large = objects.filter((object) => object.plaintext.length === 20 * MiB);
    expect(large.length).toBeGreaterThanOrEqual(2);
    for (const s3ec of [{ singlePassLimit: 64 * MiB }, { singlePassLimit: 0 }, { singlePassLimit: 0, delayedAuthentication: true }] as const) {
      const client = reader({ commitmentPolicy: 'require-encrypt-allow-decrypt', ...s3ec });
      for (const object of large) expect((await read(client, object.key)).equals(object.plaintext), `${object.key} ${JSON.stringify(s3ec)}`).toBe(true);
    }
  });

  it('is refused without the s3ec option, even where plaintext reads are allowed, and V2 only as the commitment policy allows', async () => {
    const v3 = objects.find((object) => object.format === 'v3' && object.plaintext.length === 17)!;
    const v2 = objects.find((object) => object.format === 'v2' && object.plaintext.length === 17)!;
    const withoutOption = reader(null, { allowPlaintextReads: [{ bucket }] });
    expect(await codeOf(read(withoutOption, v3.key))).toBe('ERR_S3EC_DISABLED');
    expect(await codeOf(withoutOption.send(new HeadObjectCommand({ Bucket: bucket, Key: v3.key })))).toBe('ERR_S3EC_DISABLED');
    const strict = reader({});
    expect((await read(strict, v3.key)).equals(v3.plaintext)).toBe(true);
    expect(await codeOf(read(strict, v2.key))).toBe('ERR_FORMAT_VERSION_NOT_ALLOWED');
  });

  it('ranges are refused with a typed error unless the caller opts into unauthenticated ranges', async () => {
    const object = objects.find((o) => o.format === 'v3' && o.plaintext.length === 20 * MiB)!;
    expect(await codeOf(read(reader(), object.key, { Range: 'bytes=100-199' }))).toBe('ERR_S3EC_RANGE_UNAUTHENTICATED');
    const loose = reader({ unauthenticatedRanges: true });
    for (const [start, end] of [[0, 0], [100, 199], [5 * MiB - 3, 5 * MiB + 20], [20 * MiB - 10, 20 * MiB - 1]] as const) {
      const got = await read(loose, object.key, { Range: `bytes=${start}-${end}` });
      expect(got.equals(object.plaintext.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }
  });

  it("the caller's encryption context must be the one the object was written with", async () => {
    const plaintext = Buffer.from('tenant data');
    await peerPut(servers, { bucket, key: 'context/acme', kmsKeyId: keyArn, body: plaintext, encryptionContext: { tenant: 'acme' } });
    const client = reader();
    expect(await codeOf(read(client, 'context/acme'))).toBe('ERR_HEADER_AUTH_FAILED');
    const ok = await client.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'context/acme' }), { encryptionContext: { tenant: 'acme' } }));
    expect(await ok.Body!.transformToString()).toBe('tenant data');
    expect(await codeOf(client.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: 'context/acme' }), { encryptionContext: { tenant: 'other' } })))).toBe('ERR_HEADER_AUTH_FAILED');
  });

  it('CopyObject authenticates the source and copies it as it is; the peer reads the copy', async () => {
    const object = objects.find((o) => o.format === 'v3' && o.plaintext.length === MiB)!;
    const client = reader();
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copies/of-1mib', CopySource: `${bucket}/${object.key}` }));
    expect((await read(client, 'copies/of-1mib')).equals(object.plaintext)).toBe(true);
    expect((await peerGet(servers, { bucket, key: 'copies/of-1mib', kmsKeyId: keyArn })).equals(object.plaintext)).toBe(true);
    await tampered(object, 'tampered/copy-source', { byte: 10 });
    expect(await codeOf(client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copies/of-tampered', CopySource: `${bucket}/tampered/copy-source` })))).toBe('ERR_DECRYPTION_FAILED');
    await expect(plain.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copies/of-tampered' }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('reads a V3 object whose wrapped key lives in an instruction file (JSON layout and key order do not matter)', async () => {
    const object = objects.find((o) => o.format === 'v3' && o.plaintext.length === 17)!;
    const out = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
    const body = Buffer.from(await out.Body!.transformToByteArray());
    const m = out.Metadata!;
    const onObject = { 'x-amz-c': m['x-amz-c']!, 'x-amz-d': m['x-amz-d']!, 'x-amz-i': m['x-amz-i']! };
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'instruction/v3', Body: body, Metadata: onObject }));
    // Spaced JSON, keys in another order than the metadata had them.
    const instruction = JSON.stringify({ 'x-amz-t': m['x-amz-t'], 'x-amz-w': m['x-amz-w'], 'x-amz-3': m['x-amz-3'] }, null, 2);
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'instruction/v3.instruction', Body: instruction, Metadata: { 'x-amz-crypto-instr-file': '' } }));
    expect((await read(reader(), 'instruction/v3')).equals(object.plaintext)).toBe(true);
    // The peer reads it too: our understanding of the instruction file is the official one.
    expect((await peerGet(servers, { bucket, key: 'instruction/v3', kmsKeyId: keyArn })).equals(object.plaintext)).toBe(true);
    // A tampered instruction file (another wrapped key) fails typed.
    const other = objects.find((o) => o.format === 'v3' && o.plaintext.length === 16)!;
    const otherMeta = (await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: other.key }))).Metadata!;
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'instruction/v3.instruction', Body: JSON.stringify({ 'x-amz-3': otherMeta['x-amz-3'], 'x-amz-w': '12', 'x-amz-t': m['x-amz-t'] }) }));
    expect(await codeOf(read(reader(), 'instruction/v3'))).toBe('ERR_KEY_COMMITMENT_MISMATCH');
  });
});

describe('tampered S3EC objects fail on our side with typed errors', () => {
  const cases: [string, { byte?: number; metadata?: (m: Record<string, string>) => Record<string, string> }, string[]][] = [
    ['a body byte', { byte: 3 }, ['ERR_DECRYPTION_FAILED']],
    ['the tag', { byte: -1 }, ['ERR_DECRYPTION_FAILED']],
    ['the key commitment', { metadata: (m) => ({ ...m, 'x-amz-d': flipBase64(m['x-amz-d']!) }) }, ['ERR_KEY_COMMITMENT_MISMATCH']],
    ['the message id', { metadata: (m) => ({ ...m, 'x-amz-i': flipBase64(m['x-amz-i']!) }) }, ['ERR_KEY_COMMITMENT_MISMATCH']],
    ['the KMS context', { metadata: (m) => ({ ...m, 'x-amz-t': m['x-amz-t']!.replace('"aws:x-amz-cek-alg"', '"extra": "x", "aws:x-amz-cek-alg"') }) }, ['ERR_HEADER_AUTH_FAILED', 'ERR_KEY_UNWRAP_FAILED', 'ERR_KMS_FAILED', 'ERR_KMS_ACCESS_DENIED']],
    ['the wrapped key', { metadata: (m) => ({ ...m, 'x-amz-3': flipBase64(m['x-amz-3']!, 40) }) }, ['ERR_KEY_UNWRAP_FAILED', 'ERR_KMS_FAILED', 'ERR_KMS_WRONG_KEY', 'ERR_KMS_ACCESS_DENIED']],
  ];
  for (const [what, change, codes] of cases) {
    it(`${what}: small (in memory) and 20 MiB (two passes)`, async () => {
      for (const size of [17, 20 * MiB]) {
        const source = objects.find((o) => o.format === 'v3' && o.plaintext.length === size)!;
        const key = `tampered/${what.replace(/ /g, '-')}/${size}`;
        await tampered(source, key, change);
        expect(codes, `${what} ${size}`).toContain(await codeOf(read(reader(), key)));
      }
    });
  }

  it('a V2 body byte fails too (its single GCM tag)', async () => {
    const source = objects.find((o) => o.format === 'v2' && o.plaintext.length === 20 * MiB)!;
    await tampered(source, 'tampered/v2-body', { byte: 5 * MiB });
    expect(await codeOf(read(reader(), 'tampered/v2-body'))).toBe('ERR_DECRYPTION_FAILED');
  });

  it('verifyObject authenticates an S3EC object whole without releasing anything, and names a tampered one', async () => {
    const source = objects.find((o) => o.format === 'v3' && o.plaintext.length === 20 * MiB)!;
    expect(await verifyObject(reader(), { Bucket: bucket, Key: source.key })).toMatchObject({ encrypted: true, format: 's3ec', formatVersion: 3, plaintextLength: 20 * MiB });
    await tampered(source, 'tampered/for-verify', { byte: 7 * MiB });
    expect(await codeOf(verifyObject(reader(), { Bucket: bucket, Key: 'tampered/for-verify' }))).toBe('ERR_DECRYPTION_FAILED');
  });

  it('two passes release nothing of a tampered object; delayed authentication fails at the end', async () => {
    const source = objects.find((o) => o.format === 'v3' && o.plaintext.length === 20 * MiB)!;
    await tampered(source, 'tampered/late-byte', { byte: -100 });
    const twoPass = await reader({ singlePassLimit: 0 }).send(new GetObjectCommand({ Bucket: bucket, Key: 'tampered/late-byte' })).then(
      () => 'released',
      (error: S3CryptError) => error.code,
    );
    expect(twoPass).toBe('ERR_DECRYPTION_FAILED');
    const delayed = await reader({ singlePassLimit: 0, delayedAuthentication: true }).send(new GetObjectCommand({ Bucket: bucket, Key: 'tampered/late-byte' }));
    expect(await codeOf(delayed.Body!.transformToByteArray())).toBe('ERR_DECRYPTION_FAILED');
  });
});

describe('migrating a bucket from the S3 Encryption Client to s3crypt', () => {
  it('rotateKeys with convertS3ec rewrites S3EC objects in s3crypt format; without it they are skipped, never taken for plaintext', async () => {
    const converting = await writePeerObjects(servers, { bucket, kmsKeyId: keyArn, sizes: [17, 6 * MiB], formats: ['v3', 'v2'], prefix: 'convert/', multipartFrom: 64 * MiB });
    const target = new RawAesKeyring({ keyName: 's3crypt-2026', masterKey: randomBytes(32) });
    const client = reader({ commitmentPolicy: 'require-encrypt-allow-decrypt' }, { keyring: new MultiKeyring({ generator: target, decryptOnly: [new AwsKmsKeyring({ keyId: keyArn, client: kms })] }) });
    // A plaintext migration leaves them alone: they are encrypted already.
    const migrate = await rotateKeys(client, { bucket, prefix: 'convert/', to: target, migratePlaintext: true });
    expect(migrate).toMatchObject({ rotated: 0, skippedBy: { 's3ec-object': converting.length } });
    const converted = await rotateKeys(client, { bucket, prefix: 'convert/', to: target, convertS3ec: true });
    expect(converted).toMatchObject({ rotated: converting.length, failed: 0 });
    const s3cryptOnly = new EncryptingS3Client({ client: plain, keyring: target });
    for (const object of converting) {
      const head = await plain.send(new HeadObjectCommand({ Bucket: bucket, Key: object.key }));
      expect(Object.keys(head.Metadata ?? {}).filter((name) => name.startsWith('x-amz-')), object.key).toEqual([]);
      const out = await s3cryptOnly.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
      expect(Buffer.from(await out.Body!.transformToByteArray()).equals(object.plaintext), object.key).toBe(true);
      expect(s3cryptInfo(out)).toMatchObject({ encrypted: true, formatVersion: 2 });
    }
    // Idempotent: a second run finds s3crypt objects under the target.
    expect(await rotateKeys(client, { bucket, prefix: 'convert/', to: target, convertS3ec: true })).toMatchObject({ rotated: 0, skippedBy: { 'already-rotated': converting.length } });

    // And back, for readers that speak only S3EC: the official client reads them again.
    const kmsTarget = new AwsKmsKeyring({ keyId: keyArn, client: kms });
    const back = await rotateKeys(client, { bucket, prefix: 'convert/', to: kmsTarget, toS3ec: true });
    expect(back).toMatchObject({ rotated: converting.length, failed: 0 });
    for (const object of converting) expect((await peerGet(servers, { bucket, key: object.key, kmsKeyId: keyArn })).equals(object.plaintext), object.key).toBe(true);
    expect(await rotateKeys(client, { bucket, prefix: 'convert/', to: kmsTarget, toS3ec: true })).toMatchObject({ rotated: 0, skippedBy: { 'already-rotated': converting.length } });
  });
});

describe('the CLI', () => {
  it('cat and get read S3EC objects with --s3ec; ls names them; migrate --convert-s3ec moves them to s3crypt', async () => {
    const written = await writePeerObjects(servers, { bucket, kmsKeyId: keyArn, sizes: [1000], formats: ['v3'], prefix: 'cli/' });
    const object = written[0]!;
    const env = cliEnvironment(inject('s3'), { AWS_ENDPOINT_URL_KMS: servers.kmsEndpoint, S3CRYPT_KEY: `aws-kms:${keyArn}` });
    const refused = await runCli(['cat', `s3://${bucket}/${object.key}`], { env });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/ERR_S3EC_DISABLED/);
    const read = await runCli(['--s3ec', 'cat', `s3://${bucket}/${object.key}`], { env });
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout.equals(object.plaintext)).toBe(true);
    expect((await runCli(['--s3ec', 'cat', `s3://${bucket}/${object.key}`, '--range', '0-9'], { env })).stderr).toMatch(/ERR_S3EC_RANGE_UNAUTHENTICATED/);
    expect((await runCli(['ls', `s3://${bucket}/cli/`, '--recursive'], { env })).stdout.toString()).toMatch(/ 1000 S3EC v3 /);
    expect((await runCli(['--s3ec', 'verify', `s3://${bucket}/${object.key}`], { env })).stdout.toString()).toMatch(/^OK .*: S3EC v3, 1000 bytes/);
    const migrated = await runCli(['--s3ec', 'migrate', `s3://${bucket}/cli/`, '--convert-s3ec', '--json'], { env });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(JSON.parse(migrated.stdout.toString().trim().split('\n').pop()!)).toMatchObject({ rotated: 1, failed: 0 });
    expect((await runCli(['ls', `s3://${bucket}/cli/`, '--recursive'], { env })).stdout.toString()).toMatch(/ 1000 s3crypt v2 +aws-kms:/);
    expect((await runCli(['cat', `s3://${bucket}/${object.key}`], { env })).stdout.equals(object.plaintext)).toBe(true);
    // put --s3ec-write: an object the official client reads.
    const put = await runCli(['--s3ec-write', 'put', '-', `s3://${bucket}/cli/for-python.txt`], { env, stdin: 'written by the s3crypt CLI' });
    expect(put.code, put.stderr).toBe(0);
    expect((await peerGet(servers, { bucket, key: 'cli/for-python.txt', kmsKeyId: keyArn })).toString()).toBe('written by the s3crypt CLI');
  });
});

function flipBase64(value: string, at = 0): string {
  const bytes = Buffer.from(value, 'base64');
  bytes[at % bytes.length]! ^= 0x01;
  return bytes.toString('base64');
}
