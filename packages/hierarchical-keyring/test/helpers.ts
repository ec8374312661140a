// Unit-test doubles: an in-memory S3 bucket that honours what the key store relies on (sorted
// listings, If-None-Match: *, NoSuchKey), and a counting protector around a real RawAesKeyring.
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RawAesKeyring, type DecryptRequest, type EncryptRequest, type Keyring } from '@s3crypt/client';
import { BranchKeyStore } from '@s3crypt/hierarchical-keyring';

function s3Error(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

export class MemoryBucket {
  readonly objects = new Map<string, Uint8Array>();
  /** Keys the bucket pretends not to have in listings (a hostile store hiding versions). */
  readonly hidden = new Set<string>();
  requests = 0;

  readonly client = {
    send: async (command: unknown): Promise<unknown> => {
      this.requests++;
      await Promise.resolve();
      if (command instanceof PutObjectCommand) {
        const { Key, Body, IfNoneMatch } = command.input;
        if (IfNoneMatch === '*' && this.objects.has(Key!)) throw s3Error('PreconditionFailed', 412);
        this.objects.set(Key!, typeof Body === 'string' ? new TextEncoder().encode(Body) : (Body as Uint8Array));
        return {};
      }
      if (command instanceof GetObjectCommand) {
        const body = this.objects.get(command.input.Key!);
        if (!body) throw s3Error('NoSuchKey', 404);
        return { Body: (async function* () { yield body; })() };
      }
      if (command instanceof ListObjectsV2Command) {
        const { Prefix = '', MaxKeys = 1000 } = command.input;
        const keys = [...this.objects.keys()].filter((key) => key.startsWith(Prefix) && !this.hidden.has(key)).sort();
        return { Contents: keys.slice(0, MaxKeys).map((Key) => ({ Key })), IsTruncated: keys.length > MaxKeys };
      }
      throw new Error('unexpected command');
    },
  };

  text(key: string): string {
    return new TextDecoder().decode(this.objects.get(key));
  }
}

/** Counts the protector's calls and keeps every key it returned, to check they get zeroed. */
export class CountingKeyring implements Keyring {
  encrypts = 0;
  decrypts = 0;
  readonly returned: Uint8Array[] = [];
  constructor(readonly inner: Keyring) {}
  async onEncrypt(request: EncryptRequest) {
    this.encrypts++;
    const result = await this.inner.onEncrypt(request);
    this.returned.push(result.dataKey);
    return result;
  }
  async onDecrypt(request: DecryptRequest) {
    this.decrypts++;
    const key = await this.inner.onDecrypt(request);
    if (key) this.returned.push(key);
    return key;
  }
}

export function memoryStore(options: { name?: string; prefix?: string; bucket?: MemoryBucket; masterKey?: Uint8Array } = {}) {
  const bucket = options.bucket ?? new MemoryBucket();
  const protector = new CountingKeyring(new RawAesKeyring({ keyName: 'branch-key-protector', masterKey: options.masterKey ?? randomBytes(32) }));
  const store = new BranchKeyStore({
    client: bucket.client as unknown as Pick<S3Client, 'send'>,
    bucket: 'key-store',
    name: options.name ?? 'unit-store',
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    protector,
  });
  return { bucket, protector, store };
}
