import { HeadObjectCommand, type HeadObjectCommandInput, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import type { HandlerContext, SendOptions } from './context.js';
import { plaintextView } from './get-object.js';
import { openObject } from './read-object.js';

/** Reports the plaintext length, read from the authenticated trailer (one ranged GET). */
export async function headObject(ctx: HandlerContext, input: HeadObjectCommandInput, options: SendOptions): Promise<HeadObjectCommandOutput> {
  if (input.Range !== undefined || input.PartNumber !== undefined) {
    throw new TypeError('HeadObject: Range and PartNumber are not supported through EncryptingS3Client');
  }
  const opened = await openObject(ctx, input, options);
  if (!opened) return ctx.inner.send(new HeadObjectCommand(input), options);
  opened.dataKey.fill(0);
  const { Body: _body, ...response } = opened.response;
  return {
    ...plaintextView(response),
    ContentLength: opened.layout.plaintextLength,
    AcceptRanges: 'bytes',
    $metadata: { ...opened.response.$metadata, httpStatusCode: 200 },
  } as HeadObjectCommandOutput;
}
