// ETL on encrypted objects, streaming end to end: an encrypted CSV is read as a stream (decrypted and
// authenticated segment by segment), each row is transformed, and the result is written encrypted
// with lib-storage's `Upload`. Nothing holds the whole file: memory stays around
// partSize × queueSize for the upload plus a few stream buffers, whatever the file's size.
//
// The transform: keep paid orders, drop the customer's e-mail address, turn cents into an amount.
//   order_id,customer_email,country,amount_cents,status  →  order_id,country,amount
//
// Run: S3_BUCKET=my-bucket S3CRYPT_MASTER_KEY=<32 bytes, base64> node --import tsx examples/etl-csv.ts orders.csv orders-paid.csv
// (S3_ENDPOINT for MinIO or another S3-compatible store; credentials from the usual AWS variables.)
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { EncryptingS3Client, RawAesKeyring, type Keyring } from '@s3crypt/client';

export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

export interface EtlResult {
  readonly rowsIn: number;
  readonly rowsOut: number;
}

type Order = Record<'order_id' | 'customer_email' | 'country' | 'amount_cents' | 'status', string>;

/** Reads `source` (an encrypted CSV), writes the transformed CSV to `target`, encrypted. */
export async function runEtl(s3: S3Client, keyring: Keyring, source: ObjectRef, target: ObjectRef): Promise<EtlResult> {
  const client = new EncryptingS3Client({ client: s3, keyring });
  let rowsIn = 0;
  let rowsOut = 0;

  // The body is a Node stream of verified plaintext; tampering anywhere fails it with an S3CryptError.
  const input = await client.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }));

  // Upload reads `output` as it is written, one part at a time (parts are encrypted independently).
  const output = new PassThrough();
  const upload = new Upload({ client, params: { Bucket: target.bucket, Key: target.key, Body: output, ContentType: 'text/csv' }, partSize: 5 * 1024 * 1024, queueSize: 2 });
  const uploaded = upload.done();
  // If the upload fails, stop reading too (otherwise the pipeline would wait on a full buffer forever).
  const reading = new AbortController();
  uploaded.catch(() => reading.abort());

  async function* transform(orders: AsyncIterable<Order>): AsyncGenerator<Record<string, string>> {
    for await (const order of orders) {
      rowsIn++;
      if (order.status !== 'paid') continue;
      rowsOut++;
      yield { order_id: order.order_id, country: order.country, amount: (Number(order.amount_cents) / 100).toFixed(2) };
    }
  }

  await Promise.all([
    pipeline(input.Body as Readable, parse({ columns: true }), transform, stringify({ header: true, columns: ['order_id', 'country', 'amount'] }), output, { signal: reading.signal }).catch(
      async (error: unknown) => {
        // A failed read (a tampered source, a bad row) must not leave a half-written result:
        // aborting the upload aborts its multipart upload, so no object appears at `target`.
        await upload.abort();
        throw error;
      },
    ),
    uploaded,
  ]);
  return { rowsIn, rowsOut };
}

async function main(): Promise<void> {
  const [sourceKey, targetKey] = process.argv.slice(2);
  const bucket = process.env.S3_BUCKET;
  const masterKey = Buffer.from(process.env.S3CRYPT_MASTER_KEY ?? '', 'base64');
  if (!sourceKey || !targetKey || !bucket || masterKey.length !== 32) throw new Error('usage: S3_BUCKET=… S3CRYPT_MASTER_KEY=<32 bytes, base64> etl-csv.ts <source key> <target key>');
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT, forcePathStyle: true } : {}) });
  const keyring = new RawAesKeyring({ keyName: 'app-key', masterKey }); // or a KMS keyring (examples/kms-*.ts)
  const { rowsIn, rowsOut } = await runEtl(s3, keyring, { bucket, key: sourceKey }, { bucket, key: targetKey });
  console.log(`${rowsIn} rows read, ${rowsOut} written to s3://${bucket}/${targetKey}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
