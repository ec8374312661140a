// A second writer of s3crypt objects, built only from docs/FORMAT.md and node:crypto. It imports
// nothing from @s3crypt/client (neither its format nor its write path), so when the client's reader
// accepts what this writes, the spec and the code agree; where they do not, one of them is wrong.
// It also lets a test build what an attacker could: an object from scratch with their own data key,
// wrapped under nothing but a public key.
import { constants, createCipheriv, createHash, createPublicKey, createHmac, hkdfSync, publicEncrypt, randomBytes, sign, type KeyObject } from 'node:crypto';

/** FORMAT.md §2 / §9.2: a context is string pairs. */
export type IndependentContext = Readonly<Record<string, string>>;

/** One wrapped data key as it goes into the envelope (FORMAT.md §2, "per EDK"). */
export interface IndependentEdk {
  readonly providerId: string;
  readonly keyId: string;
  readonly ciphertext: Uint8Array;
}

/**
 * Wraps the object's data key under the object's full encryption context (FORMAT.md §2 / §9.2).
 *
 * @example
 * ```ts
 * const junk: EdkMaker = () => ({ providerId: 'raw-aes', keyId: 'k', ciphertext: randomBytes(60) });
 * ```
 */
export type EdkMaker = (dataKey: Uint8Array, context: IndependentContext) => IndependentEdk;

/** One data part: its S3 part number (1 … 9999) and its plaintext. */
export interface IndependentPart {
  readonly partNumber: number;
  readonly plaintext: Uint8Array;
}

/**
 * What to write. One part numbered 1 is a single PUT; anything else is a completed multipart upload.
 *
 * @example
 * ```ts
 * const input: IndependentWriteInput = {
 *   bucket: 'b', key: 'k', parts: [{ partNumber: 1, plaintext: Buffer.from('hi') }],
 *   segmentSize: 4096, version: 2, edks: [rawAesEdk('app-key', masterKey)],
 * };
 * ```
 */
export interface IndependentWriteInput {
  readonly bucket: string;
  readonly key: string;
  /** Strictly increasing part numbers. */
  readonly parts: readonly IndependentPart[];
  readonly segmentSize: number;
  readonly version: 1 | 2;
  /** Version 2 only (FORMAT.md §9.2): not stored, bound into the header key and given to EDK makers. */
  readonly callerContext?: IndependentContext;
  readonly edks: readonly EdkMaker[];
  /** ECDSA P-384 private key: version 2 suite 2 (signed). Without it, suite 1. */
  readonly signingKey?: KeyObject;
  /** Suite 2: the signer id to record instead of SHA-256 of the signing key's SPKI (a lying envelope). */
  readonly signerId?: Uint8Array;
  /** 32 bytes; default random. Not zeroed (the caller owns it). */
  readonly dataKey?: Uint8Array;
  /** 32 bytes; default random. */
  readonly messageId?: Uint8Array;
}

/**
 * An object as S3 stores it, plus its identity computed by FORMAT.md §9.7.
 *
 * @example
 * ```ts
 * const { metadata, body } = writeIndependently(input); // metadata['s3crypt-envelope'] is base64
 * ```
 */
export interface IndependentObject {
  /** User metadata without the `x-amz-meta-` prefix. */
  readonly metadata: Record<string, string>;
  readonly body: Buffer;
  readonly objectId: string;
}

const ENVELOPE_METADATA_KEY = 's3crypt-envelope';
const DATA_KEY_LENGTH = 32;
const MESSAGE_ID_LENGTH = 32;
const SALT_LENGTH = 16;
const KIND_DATA = 0x01;
const KIND_TRAILER = 0x02;

const u8 = (n: number) => Buffer.from([n]);
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
const ascii = (text: string) => Buffer.from(text, 'utf8');
const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: Buffer) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));

/**
 * FORMAT.md §2 `serializeContext`: entries sorted by key, each key and value as u16 length ‖ UTF-8.
 *
 * @example
 * ```ts
 * serializeContextIndependently({ b: '2', a: '1' }); // 00 01 'a' 00 01 '1' 00 01 'b' 00 01 '2'
 * ```
 */
export function serializeContextIndependently(context: IndependentContext): Buffer {
  const out: Buffer[] = [];
  for (const name of Object.keys(context).sort()) {
    for (const text of [name, context[name] ?? '']) {
      const bytes = Buffer.from(text, 'utf8');
      out.push(u16(bytes.length), bytes);
    }
  }
  return Buffer.concat(out);
}

/**
 * FORMAT.md §2 / §9.2: the context keyrings and the v2 header key see.
 *
 * @example
 * ```ts
 * independentContext('b', 'k', 2, { tenant: 'acme' });
 * ```
 */
export function independentContext(bucket: string, key: string, version: 1 | 2, callerContext: IndependentContext = {}): IndependentContext {
  return { ...callerContext, 's3crypt:bucket': bucket, 's3crypt:key': key, 's3crypt:format': String(version) };
}

/**
 * FORMAT.md §2 `raw-aes`: iv(12) ‖ GCM(masterKey, iv, DEK, aad = serializeContext) ‖ tag(16).
 *
 * @example
 * ```ts
 * const maker = rawAesEdk('app-key-1', masterKey);
 * ```
 */
export function rawAesEdk(keyId: string, masterKey: Uint8Array): EdkMaker {
  return (dataKey, context) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
    cipher.setAAD(serializeContextIndependently(context));
    const sealed = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { providerId: 'raw-aes', keyId, ciphertext: Buffer.concat([iv, sealed, cipher.getAuthTag()]) };
  };
}

/**
 * FORMAT.md §2 `raw-rsa`: RSA-OAEP-SHA256(publicKey, DEK) ‖ HKDF(DEK, salt = empty,
 * info = "s3crypt raw-rsa binding" ‖ serializeContext, 32). Needs only the public key.
 *
 * @example
 * ```ts
 * const forged = rsaOaepEdk('archive-2026', victimPublicKey);
 * ```
 */
export function rsaOaepEdk(keyId: string, publicKey: KeyObject): EdkMaker {
  return (dataKey, context) => {
    const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, dataKey);
    const binding = hkdf(dataKey, Buffer.alloc(0), Buffer.concat([ascii('s3crypt raw-rsa binding'), serializeContextIndependently(context)]));
    return { providerId: 'raw-rsa', keyId, ciphertext: Buffer.concat([wrapped, binding]) };
  };
}

/**
 * An EDK of arbitrary bytes under a chosen provider and key id: one no keyring can unwrap.
 *
 * @example
 * ```ts
 * const decoy = junkEdk('raw-aes', 'app-key-1', randomBytes(60));
 * ```
 */
export function junkEdk(providerId: string, keyId: string, ciphertext: Uint8Array): EdkMaker {
  return () => ({ providerId, keyId, ciphertext });
}

/**
 * SHA-256 of a P-384 public key's DER SubjectPublicKeyInfo (FORMAT.md §9.3 `signerId`).
 *
 * @example
 * ```ts
 * const id = signerIdIndependently(createPublicKey(signingKey));
 * ```
 */
export function signerIdIndependently(key: KeyObject): Buffer {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest();
}

interface Schedule {
  readonly dataKey: Uint8Array;
  readonly messageId: Buffer;
  readonly params: Buffer;
  readonly label: string;
}

/** FORMAT.md §3 / §9.4 `partKey`. */
function partKey(s: Schedule, kind: number, partNumber: number, salt: Buffer): Buffer {
  return hkdf(s.dataKey, s.messageId, Buffer.concat([ascii(`${s.label} part`), s.params, u8(kind), u32(partNumber), salt]));
}

/** FORMAT.md §4: nonce_j = 0x00 × 7 ‖ j(u32) ‖ final(u8). */
function nonce(index: number, final: boolean): Buffer {
  return Buffer.concat([Buffer.alloc(7), u32(index), u8(final ? 1 : 0)]);
}

function gcm(key: Buffer, iv: Buffer, plaintext: Uint8Array, aad?: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (aad) cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** FORMAT.md §4: max(1, ceil(L / segmentSize)) segments, each GCM ciphertext ‖ tag. */
function sealPart(key: Buffer, plaintext: Uint8Array, segmentSize: number): Buffer {
  const count = Math.max(1, Math.ceil(plaintext.length / segmentSize));
  const segments: Buffer[] = [];
  for (let j = 0; j < count; j++) {
    segments.push(gcm(key, nonce(j, j === count - 1), plaintext.subarray(j * segmentSize, (j + 1) * segmentSize)));
  }
  return Buffer.concat(segments);
}

function checkInput(input: IndependentWriteInput): void {
  if (input.version === 1 && (input.signingKey || input.callerContext)) throw new TypeError('independent writer: version 1 has no signature and no caller context');
  if (input.parts.length === 0 || input.parts.length > 9999) throw new TypeError('independent writer: 1 … 9999 parts');
  let previous = 0;
  for (const part of input.parts) {
    if (!Number.isInteger(part.partNumber) || part.partNumber <= previous || part.partNumber > 9999) throw new TypeError('independent writer: part numbers must increase strictly within 1 … 9999');
    previous = part.partNumber;
  }
  if (input.edks.length < 1 || input.edks.length > 255) throw new TypeError('independent writer: 1 … 255 EDK makers');
  if (input.dataKey && input.dataKey.length !== DATA_KEY_LENGTH) throw new TypeError('independent writer: dataKey must be 32 bytes');
  if (input.messageId && input.messageId.length !== MESSAGE_ID_LENGTH) throw new TypeError('independent writer: messageId must be 32 bytes');
}

function encodeEdk(edk: IndependentEdk): Buffer {
  const provider = Buffer.from(edk.providerId, 'ascii');
  const keyId = Buffer.from(edk.keyId, 'utf8');
  return Buffer.concat([u8(provider.length), provider, u16(keyId.length), keyId, u16(edk.ciphertext.length), edk.ciphertext]);
}

/**
 * Writes an object (envelope and body) exactly as FORMAT.md describes, with nothing from the client.
 *
 * @example
 * ```ts
 * const forged = writeIndependently({
 *   bucket: 'b', key: 'k', version: 2, segmentSize: 4096,
 *   parts: [{ partNumber: 1, plaintext: Buffer.from('pay 1M to mallory') }],
 *   edks: [rsaOaepEdk('archive-2026', victimPublicKey)],
 * });
 * ```
 */
export function writeIndependently(input: IndependentWriteInput): IndependentObject {
  checkInput(input);
  const { version, segmentSize } = input;
  const suite = input.signingKey ? 2 : 1;
  const ownDataKey = input.dataKey ? undefined : randomBytes(DATA_KEY_LENGTH);
  const dataKey = input.dataKey ?? ownDataKey!;
  const messageId = Buffer.from(input.messageId ?? randomBytes(MESSAGE_ID_LENGTH));
  const params = Buffer.concat([u8(version), u8(suite), u32(segmentSize)]);
  const schedule: Schedule = { dataKey, messageId, params, label: `s3crypt/v${version}` };
  const context = independentContext(input.bucket, input.key, version, input.callerContext);
  const contextDigest = createHash('sha256').update(serializeContextIndependently(context)).digest();
  try {
    const commitment = hkdf(dataKey, messageId, Buffer.concat([ascii(`${schedule.label} commit`), params]));
    const signerId = input.signingKey ? Buffer.from(input.signerId ?? signerIdIndependently(createPublicKeyOf(input.signingKey))) : Buffer.alloc(0);
    const edks = input.edks.map((make) => encodeEdk(make(dataKey, context)));
    let envelope = Buffer.concat([params, messageId, commitment, signerId, u8(edks.length), ...edks]);
    if (version === 2) {
      const headerKey = hkdf(dataKey, messageId, Buffer.concat([ascii('s3crypt/v2 header'), params, contextDigest]));
      envelope = Buffer.concat([envelope, createHmac('sha256', headerKey).update(envelope).digest()]);
      headerKey.fill(0);
    }

    const sealed: Buffer[] = [];
    const entries: Buffer[] = [];
    for (const part of input.parts) {
      const salt = randomBytes(SALT_LENGTH);
      const key = partKey(schedule, KIND_DATA, part.partNumber, salt);
      sealed.push(sealPart(key, part.plaintext, segmentSize));
      key.fill(0);
      entries.push(Buffer.concat([u32(part.partNumber), u64(part.plaintext.length), salt]));
    }
    const n = u32(entries.length);
    const trailerSalt = randomBytes(SALT_LENGTH);
    const trailerKey = partKey(schedule, KIND_TRAILER, 0, trailerSalt);
    const tag = gcm(trailerKey, nonce(0, true), Buffer.alloc(0), Buffer.concat([...entries, n]));
    trailerKey.fill(0);
    let signature = Buffer.alloc(0);
    if (input.signingKey) {
      const signed = Buffer.concat([ascii('s3crypt/v2 signature'), params, messageId, commitment, signerId, trailerSalt, ...entries, n, tag]);
      signature = sign('sha384', signed, { key: input.signingKey, dsaEncoding: 'ieee-p1363' });
    }
    const trailer = Buffer.concat([trailerSalt, ...entries, tag, signature, n]);
    const objectId = createHash('sha256')
      .update(Buffer.concat([ascii('s3crypt object id'), u8(version), messageId, commitment, tag, contextDigest]))
      .digest('base64url');
    return { metadata: { [ENVELOPE_METADATA_KEY]: envelope.toString('base64') }, body: Buffer.concat([...sealed, trailer]), objectId };
  } finally {
    ownDataKey?.fill(0);
  }
}

function createPublicKeyOf(privateKey: KeyObject): KeyObject {
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1') throw new TypeError('independent writer: the signing key must be ECDSA P-384');
  return createPublicKey(privateKey);
}
