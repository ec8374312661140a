// npm run bench:latency (also part of npm run bench): how long a whole GetObject of a mid-sized object,
// a ranged one, and a HeadObject take where users live: the store behind an emulated link (bench/netem.ts: its own
// network namespace, RTT = 2 × delay) and the key service a round trip of its own away. Plain S3Client
// against s3crypt, interleaved, median latency. The key service is a RawAesKeyring behind a fixed
// delay per call (DistantKeyring below): a stand-in for a KMS's round trip, not a KMS. Each object is
// read many times, so every measured GET is of a version this client has read before: it asks for
// the rest with the tail (client/early-body.ts) and should cost about the key service's round trip
// over the plain GET; a HEAD sends its tail GET with the HEAD (client/head-object.ts), so the same.
// Not a test: it asserts nothing.
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring, withS3Crypt, type DecryptRequest, type EncryptRequest, type Keyring } from '@s3crypt/client';
import { s3Client } from '../test/harness/minio.js';
import { startNetemMinio } from './netem.js';
import { flag, medians } from './parallel-get.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * What a read costs at least over the plain GET: every measured round reads an object this client has
 * read before (in the warm-up), so the rest goes out with the tail and only the key service's round
 * trip is left; a first read of a version costs one store round trip more.
 */
const FLOOR = '— (the key service: reads of a version read before ask for the rest with the tail)';

/** A local keyring whose every call first waits `delayMs`, as a key service that far away would. */
class DistantKeyring implements Keyring {
  constructor(
    private readonly inner: RawAesKeyring,
    private readonly delayMs: number,
  ) {}
  async onEncrypt(request: EncryptRequest) {
    await sleep(this.delayMs);
    return this.inner.onEncrypt(request);
  }
  async onDecrypt(request: DecryptRequest) {
    await sleep(this.delayMs);
    return this.inner.onDecrypt(request);
  }
  kekMatchers() {
    return this.inner.kekMatchers();
  }
}

async function drain(body: unknown): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

export interface ReadLatencyOptions {
  /** One-way delays of the store's link, ms (RTT is twice that). Default 10 and 25. */
  readonly delays?: readonly number[];
  /** Object sizes. Default 1 MiB and 8 MiB. */
  readonly sizes?: readonly number[];
  /** The key service's delay per call, ms. Default 10. */
  readonly keyServiceMs?: number;
  /** Measured rounds per variant. Default 15. */
  readonly runs?: number;
}

/** Rows of whole-GET latency, plain against s3crypt, for each link delay and object size. */
export async function readLatencyBench(options: ReadLatencyOptions = {}): Promise<string[][]> {
  const keyServiceMs = options.keyServiceMs ?? 10;
  const rows: string[][] = [];
  for (const delayMs of options.delays ?? [10, 25]) {
    const far = await startNetemMinio({ delayMs });
    const plain = s3Client(far.endpoint);
    const keyring = new DistantKeyring(new RawAesKeyring({ keyName: 'bench', masterKey: randomBytes(32) }), keyServiceMs);
    const encrypting = new EncryptingS3Client({ client: s3Client(far.endpoint), keyring });
    try {
      const bucket = `bench-latency-${Date.now()}`;
      await plain.send(new CreateBucketCommand({ Bucket: bucket }));
      const row = (what: string, base: number, ours: number, target: string) => {
        const extra = ours / base - 1;
        rows.push([
          `${what}, RTT ${2 * delayMs} ms (${far.link}), key service ${keyServiceMs} ms away: latency`,
          `${base.toFixed(1)} ms`,
          `${ours.toFixed(1)} ms`,
          `${extra >= 0 ? '+' : ''}${(extra * 100).toFixed(0)}% (${ours >= base ? '+' : ''}${(ours - base).toFixed(1)} ms)`,
          target,
        ]);
      };
      for (const size of options.sizes ?? [MiB, 8 * MiB]) {
        const body = randomBytes(size);
        await plain.send(new PutObjectCommand({ Bucket: bucket, Key: `plain-${size}`, Body: body }));
        await encrypting.send(new PutObjectCommand({ Bucket: bucket, Key: `encrypted-${size}`, Body: body }));
        const get = (client: typeof plain, key: string) => async () =>
          drain((await client.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: key }), client === plain ? {} : { parallelReads: false }))).Body);
        const variants = [
          { name: 'plain', read: get(plain, `plain-${size}`) },
          { name: 's3crypt', read: get(encrypting, `encrypted-${size}`) },
        ];
        for (const variant of variants) await variant.read(); // warm-up: connections, the store's caches
        const [base, ours] = await medians(variants, options.runs ?? 15);
        const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`;
        row(`GET ${label} whole, one GET`, base!.ms, ours!.ms, FLOOR);
        // A ranged read in the middle (a columnar file's column chunk): its range is guessed from the
        // one-part layout (a single PUT) and asked for while the tail is opened.
        const middle = Math.floor(size / 2);
        const range = `bytes=${middle}-${middle + 100 * KiB - 1}`;
        const ranged = (client: typeof plain, key: string) => async () =>
          drain((await client.send(withS3Crypt(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }), client === plain ? {} : { parallelReads: false }))).Body);
        const rangedVariants = [
          { name: 'plain', read: ranged(plain, `plain-${size}`) },
          { name: 's3crypt', read: ranged(encrypting, `encrypted-${size}`) },
        ];
        for (const variant of rangedVariants) await variant.read();
        const [plainRanged, ourRanged] = await medians(rangedVariants, options.runs ?? 15);
        row(`GET 100 KiB from the middle of ${label}`, plainRanged!.ms, ourRanged!.ms, FLOOR);
        if (size === (options.sizes ?? [MiB])[0]) {
          const head = (client: typeof plain, key: string) => async () => (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? 0;
          const heads = [
            { name: 'plain', read: head(plain, `plain-${size}`) },
            { name: 's3crypt', read: head(encrypting, `encrypted-${size}`) },
          ];
          for (const variant of heads) await variant.read();
          const [plainHead, ourHead] = await medians(heads, options.runs ?? 15);
          row('HeadObject', plainHead!.ms, ourHead!.ms, '— (the floor is the key service: the HEAD and the tail GET go together)');
        }
      }
    } finally {
      encrypting.destroy();
      plain.destroy();
      await far.stop();
    }
  }
  return rows;
}

// npm run bench:latency -- [--delays 10,25] [--sizes 1,8 (MiB)] [--key-service-ms 10] [--runs 15]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const list = (name: string) => flag(name)?.split(',').filter(Boolean).map(Number);
  const rows = await readLatencyBench({
    ...(list('--delays') ? { delays: list('--delays')! } : {}),
    ...(list('--sizes') ? { sizes: list('--sizes')!.map((mib) => mib * MiB) } : {}),
    ...(flag('--key-service-ms') ? { keyServiceMs: Number(flag('--key-service-ms')) } : {}),
    ...(flag('--runs') ? { runs: Number(flag('--runs')) } : {}),
  });
  console.log(`node ${process.version}\n`);
  console.log('| measure | plain | s3crypt | latency | target |\n|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}
