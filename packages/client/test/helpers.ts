// Builds and reads stored objects in memory with the same format functions the client uses against
// S3, so format properties can be tested exhaustively without a server.
import { findEnvelope, metadataWithEnvelope, parseEnvelope } from '../src/format/envelope.js';
import { planRead } from '../src/format/layout.js';
import { dataPartKey, newDataPart, newEnvelope, newSuiteParameters, readLayout, sealObject, trailerLengthFromTail } from '../src/format/object.js';
import { openSegments } from '../src/format/open-stream.js';
import { sealPart } from '../src/format/segments.js';
import { sealTrailer, type TrailerEntry } from '../src/format/trailer.js';
import { unwrapDataKey, wrapDataKey } from '../src/client/materials.js';
import { objectEncryptionContext, type Keyring } from '../src/keyrings/keyring.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';

export const BUCKET = 'vectors';
export const KEY = 'object';

export interface StoredObject {
  readonly metadata: Record<string, string>;
  readonly body: Buffer;
}

export function testKeyring(seed = 7): RawAesKeyring {
  return new RawAesKeyring({ keyName: 'unit-test-key', masterKey: Buffer.alloc(32, seed) });
}

/** Encrypts `plaintext` as a single PUT would store it. */
export async function putInMemory(keyring: Keyring, plaintext: Uint8Array, segmentSize: number, key = KEY): Promise<StoredObject> {
  const params = newSuiteParameters(segmentSize);
  const { dataKey, encryptedDataKeys } = await wrapDataKey(keyring, objectEncryptionContext(BUCKET, key));
  const metadata = metadataWithEnvelope({}, newEnvelope(dataKey, params, encryptedDataKeys));
  const body = sealObject(dataKey, params, plaintext);
  dataKey.fill(0);
  return { metadata, body };
}

/** A multipart upload in memory: every attempt of every part is encrypted; `complete` picks attempts. */
export async function multipartInMemory(keyring: Keyring, segmentSize: number, key = KEY) {
  const params = newSuiteParameters(segmentSize);
  const { dataKey, encryptedDataKeys } = await wrapDataKey(keyring, objectEncryptionContext(BUCKET, key));
  const metadata = metadataWithEnvelope({}, newEnvelope(dataKey, params, encryptedDataKeys));
  return {
    metadata,
    uploadPart(partNumber: number, plaintext: Uint8Array): { entry: TrailerEntry; body: Buffer } {
      const { salt, key: partKey } = newDataPart(dataKey, params, partNumber);
      return { entry: { partNumber, length: plaintext.length, salt: Buffer.from(salt) }, body: sealPart(partKey, plaintext, segmentSize) };
    },
    complete(parts: readonly { entry: TrailerEntry; body: Buffer }[]): StoredObject {
      const trailer = sealTrailer(dataKey, params, parts.map((p) => p.entry));
      return { metadata, body: Buffer.concat([...parts.map((p) => p.body), trailer]) };
    },
  };
}

/** Reads a stored object exactly as the client does, optionally a plaintext range [start, end). */
export async function getInMemory(keyring: Keyring, stored: StoredObject, range?: { start: number; end: number }, key = KEY): Promise<Buffer> {
  const envelope = parseEnvelope(findEnvelope(stored.metadata) ?? '');
  const dataKey = await unwrapDataKey(keyring, envelope, objectEncryptionContext(BUCKET, key));
  try {
    const trailerLength = trailerLengthFromTail(stored.body);
    const layout = readLayout(dataKey, envelope, stored.body.subarray(stored.body.length - trailerLength), stored.body.length);
    const plan = range ? planRead(layout, range.start, range.end) : planRead(layout, 0, layout.plaintextLength, true);
    const keys = new Map(plan.partIndexes.map((i) => [i, dataPartKey(dataKey, envelope, layout.parts[i]!)]));
    const chunks: Buffer[] = [];
    const source = (async function* () {
      yield stored.body.subarray(plan.cipherStart, plan.cipherEnd);
    })();
    for await (const chunk of openSegments(source, plan.segments(), (i) => keys.get(i)!)) chunks.push(chunk);
    return Buffer.concat(chunks);
  } finally {
    dataKey.fill(0);
  }
}

export function pattern(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}
