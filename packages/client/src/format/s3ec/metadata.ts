// Recognising objects written by the AWS S3 Encryption Client (S3EC) from their user metadata, without
// decrypting them: which content metadata format (V1, V2, V3), which algorithms, and where the wrapped
// key lives (the metadata, or an instruction file `<key>.instruction`). Strict and bounded: anything
// that deviates from the S3EC specification (awslabs/aws-encryption-sdk-specification,
// s3-encryption/data-format/) is malformed, as an S3EC reader would refuse it too.
import { DecryptionError, EnvelopeError } from '../../errors.js';
import { quoteUntrusted } from '../../untrusted-text.js';

/** V3's compressed content algorithm `115`: ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY (suite 0x0073). */
export const S3EC_COMMITTING_SUITE = 'ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY';
export const S3EC_GCM = 'AES/GCM/NoPadding';
export const S3EC_CBC = 'AES/CBC/PKCS5Padding';
/** Bytes every GCM-encrypted S3EC object carries after its ciphertext (x-amz-tag-len 128). */
export const S3EC_GCM_TAG_LENGTH = 16;
const CBC_BLOCK = 16;

/** An S3EC object's content metadata, as its own user metadata states it (nothing is verified). */
export interface S3ecContentMetadata {
  readonly kind: 'object';
  /** The content metadata format; absent when all of it is in an instruction file (V1/V2). */
  readonly formatVersion?: 1 | 2 | 3;
  /** `AES/GCM/NoPadding`, `AES/CBC/PKCS5Padding` or `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`; absent when in an instruction file. */
  readonly contentAlgorithm?: string;
  /** How the data key is wrapped (`kms+context`, `AES/GCM`, `RSA-OAEP-SHA1`, …); absent for V1 and when in an instruction file. */
  readonly wrapAlgorithm?: string;
  /** `x-amz-matdesc` (V1/V2) or `x-amz-m` (V3). For V2 `kms+context` it is the KMS encryption context. */
  readonly materialDescription?: Readonly<Record<string, string>>;
  /** `x-amz-t` (V3): the KMS encryption context. */
  readonly encryptionContext?: Readonly<Record<string, string>>;
  /** The wrapped key (and for V1/V2 all content metadata) is in the instruction file `<key>.instruction`. */
  readonly instructionFile: boolean;
  /** Bytes of the wrapped data key, when it is in the metadata. */
  readonly wrappedKeyLength?: number;
  /** `x-amz-unencrypted-content-length`, as claimed (check it against the stored length before use). */
  readonly claimedPlaintextLength?: number;
}

/** An S3EC instruction file itself (metadata `x-amz-crypto-instr-file`): a plaintext JSON object. */
export interface S3ecInstructionFile {
  readonly kind: 'instruction-file';
}

const WRAP_ALGORITHMS_V2 = new Set(['AES/GCM', 'AESWrap', 'kms+context', 'kms', 'RSA/ECB/OAEPWithSHA-256AndMGF1Padding', 'RSA-OAEP-SHA1']);
const WRAP_ALGORITHMS_V3: Readonly<Record<string, string>> = { '02': 'AES/GCM', '12': 'kms+context', '22': 'RSA-OAEP-SHA1' };
const CONTENT_ALGORITHMS: Readonly<Record<string, string>> = { [S3EC_GCM]: S3EC_GCM, [S3EC_CBC]: S3EC_CBC, '115': S3EC_COMMITTING_SUITE };

export const S3EC_INSTRUCTION_FILE_SUFFIX = '.instruction';

const V1_KEYS = ['x-amz-key', 'x-amz-iv', 'x-amz-matdesc', 'x-amz-unencrypted-content-length'];
const V2_KEYS = ['x-amz-key-v2', 'x-amz-iv', 'x-amz-matdesc', 'x-amz-wrap-alg', 'x-amz-cek-alg', 'x-amz-tag-len', 'x-amz-unencrypted-content-length'];
const V3_KEYS = ['x-amz-c', 'x-amz-3', 'x-amz-d', 'x-amz-i', 'x-amz-w', 'x-amz-m', 'x-amz-t'];
const V12_KEYS = new Set([...V1_KEYS, ...V2_KEYS].filter((key) => key !== 'x-amz-unencrypted-content-length'));
/** @internal Every S3EC metadata name, as the specification spells it (lower case). */
export const S3EC_METADATA_NAMES: ReadonlySet<string> = new Set([...V1_KEYS, ...V2_KEYS, ...V3_KEYS, 'x-amz-crypto-instr-file']);
const ALL_KEYS = S3EC_METADATA_NAMES;
/** @internal Metadata of an instruction file object (a name with an empty value). */
export const INSTRUCTION_FILE_MARKER = 'x-amz-crypto-instr-file';
/** @internal V3 names that must stay in the object metadata, never in an instruction file. */
export const V3_OBJECT_ONLY_KEYS: readonly string[] = ['x-amz-c', 'x-amz-d', 'x-amz-i'];
/** @internal V3 names an instruction file holds for its object. */
export const V3_INSTRUCTION_FILE_KEYS: readonly string[] = ['x-amz-3', 'x-amz-w', 'x-amz-m', 'x-amz-t'];
/** @internal Names only V1 and V2 content metadata uses. */
export const V1_V2_KEYS: ReadonlySet<string> = new Set([...V1_KEYS, ...V2_KEYS]);
/** Bytes of a V3 message id (`x-amz-i`) and of a V3 key commitment (`x-amz-d`). */
export const S3EC_MESSAGE_ID_LENGTH = 28;
export const S3EC_COMMITMENT_LENGTH = 28;

const MAX_BASE64 = 8192;
const MAX_JSON_BYTES = 8192;
const MAX_JSON_ENTRIES = 64;

/** @internal The error of every deviation from the S3EC metadata rules. */
export function malformed(detail: string): EnvelopeError {
  return new EnvelopeError('ERR_ENVELOPE_MALFORMED', `S3 Encryption Client metadata is malformed: ${detail}`);
}

/** @internal The S3EC entries of `metadata`, by lower-cased name (S3 lower-cases them; a hostile store may not). */
export function s3ecEntries(metadata: Readonly<Record<string, string>>): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [name, value] of Object.entries(metadata)) {
    const lower = name.toLowerCase();
    if (!ALL_KEYS.has(lower)) continue;
    if (entries.has(lower)) throw malformed(`${quoteUntrusted(lower)} appears twice`);
    entries.set(lower, value);
  }
  return entries;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * S3 returns non-ASCII metadata as one RFC 2047 encoded word (`=?UTF-8?B?…?=` or `=?UTF-8?Q?…?=`),
 * and "double encodes" it: the word carries the UTF-8 of the original UTF-8 bytes read as Latin-1.
 * The official clients (Java ContentMetadataDecodingStrategy, Go customS3Decoder) undo both; so does
 * this, and it keeps a singly encoded word (another store) whose Latin-1 reading is not UTF-8.
 */
function decodeS3Text(value: string): string {
  const word = /^=\?UTF-8\?([BQ])\?([^?]*)\?=$/i.exec(value);
  if (!word) return value;
  const [, encoding, text] = word as unknown as [string, string, string];
  const bytes =
    encoding.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  const once = bytes.toString('utf8');
  const codes = [...once].map((char) => char.codePointAt(0) as number);
  if (!codes.some((code) => code > 0x7f) || codes.some((code) => code > 0xff)) return once;
  try {
    return STRICT_UTF8.decode(Buffer.from(once, 'latin1'));
  } catch {
    return once;
  }
}

/** @internal The bytes of a base64 metadata value; malformed unless canonical base64 of at most 8192 characters. */
export function base64Bytes(value: string, name: string): Buffer {
  if (value.length === 0 || value.length > MAX_BASE64 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw malformed(`${name} is not base64`);
  return Buffer.from(value, 'base64');
}

function base64Length(value: string, name: string): number {
  return base64Bytes(value, name).length;
}

/** @internal A JSON object of strings (material description, encryption context), bounded. */
export function stringMap(value: string, name: string): Readonly<Record<string, string>> {
  const text = decodeS3Text(value);
  if (Buffer.byteLength(text) > MAX_JSON_BYTES) throw malformed(`${name} is larger than ${MAX_JSON_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed(`${name} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed(`${name} is not a JSON object`);
  const entries = Object.entries(parsed);
  if (entries.length > MAX_JSON_ENTRIES) throw malformed(`${name} has more than ${MAX_JSON_ENTRIES} entries`);
  if (!entries.every(([, entry]) => typeof entry === 'string')) throw malformed(`${name} has a value that is not a string`);
  return Object.freeze(Object.fromEntries(entries) as Record<string, string>);
}

function claimedLength(entries: Map<string, string>): { claimedPlaintextLength?: number } {
  const value = entries.get('x-amz-unencrypted-content-length');
  if (value === undefined) return {};
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) throw malformed(`x-amz-unencrypted-content-length ${quoteUntrusted(value)} is not a length`);
  return { claimedPlaintextLength: Number(value) };
}

function onlyKeys(entries: Map<string, string>, allowed: readonly string[], format: string): void {
  const stray = [...entries.keys()].find((key) => !allowed.includes(key));
  if (stray !== undefined) throw malformed(`${format} metadata with ${quoteUntrusted(stray)}`);
}

function required(entries: Map<string, string>, key: string, format: string): string {
  const value = entries.get(key);
  if (value === undefined) throw malformed(`${format} metadata without ${key}`);
  return value;
}

function checkIv(value: string, contentAlgorithm: string): void {
  const length = base64Length(value, 'x-amz-iv');
  const expected = contentAlgorithm === S3EC_CBC ? 16 : 12;
  if (length !== expected) throw malformed(`x-amz-iv is ${length} bytes; ${contentAlgorithm} uses ${expected}`);
}

function parseV1(entries: Map<string, string>): S3ecContentMetadata {
  onlyKeys(entries, V1_KEYS, 'V1');
  const wrappedKeyLength = base64Length(required(entries, 'x-amz-key', 'V1'), 'x-amz-key');
  checkIv(required(entries, 'x-amz-iv', 'V1'), S3EC_CBC);
  const materialDescription = stringMap(required(entries, 'x-amz-matdesc', 'V1'), 'x-amz-matdesc');
  return { kind: 'object', formatVersion: 1, contentAlgorithm: S3EC_CBC, materialDescription, instructionFile: false, wrappedKeyLength, ...claimedLength(entries) };
}

function parseV2(entries: Map<string, string>): S3ecContentMetadata {
  onlyKeys(entries, V2_KEYS, 'V2');
  const wrappedKeyLength = base64Length(required(entries, 'x-amz-key-v2', 'V2'), 'x-amz-key-v2');
  const cek = required(entries, 'x-amz-cek-alg', 'V2');
  if (cek !== S3EC_GCM && cek !== S3EC_CBC) throw malformed(`x-amz-cek-alg ${quoteUntrusted(cek)} is not a V2 content algorithm`);
  const wrapAlgorithm = required(entries, 'x-amz-wrap-alg', 'V2');
  if (!WRAP_ALGORITHMS_V2.has(wrapAlgorithm)) throw malformed(`x-amz-wrap-alg ${quoteUntrusted(wrapAlgorithm)} is not a V2 wrapping algorithm`);
  const tagLength = entries.get('x-amz-tag-len');
  if (cek === S3EC_GCM ? tagLength !== '128' : tagLength !== undefined) {
    throw malformed(cek === S3EC_GCM ? `x-amz-tag-len must be 128 for ${S3EC_GCM}` : `x-amz-tag-len with ${S3EC_CBC}`);
  }
  checkIv(required(entries, 'x-amz-iv', 'V2'), cek);
  const materialDescription = stringMap(required(entries, 'x-amz-matdesc', 'V2'), 'x-amz-matdesc');
  return { kind: 'object', formatVersion: 2, contentAlgorithm: cek, wrapAlgorithm, materialDescription, instructionFile: false, wrappedKeyLength, ...claimedLength(entries) };
}

function parseV3(entries: Map<string, string>): S3ecContentMetadata {
  onlyKeys(entries, [...V3_KEYS, 'x-amz-unencrypted-content-length'], 'V3');
  const content = required(entries, 'x-amz-c', 'V3');
  const contentAlgorithm = CONTENT_ALGORITHMS[content];
  if (contentAlgorithm === undefined) throw malformed(`x-amz-c ${quoteUntrusted(content)} is not a content algorithm`);
  for (const [name, expected] of [['x-amz-d', S3EC_COMMITMENT_LENGTH], ['x-amz-i', S3EC_MESSAGE_ID_LENGTH]] as const) {
    const length = base64Length(required(entries, name, 'V3'), name);
    if (length !== expected) throw malformed(`${name} is ${length} bytes, not ${expected}`);
  }
  const wrapped = entries.get('x-amz-3');
  const wrap = entries.get('x-amz-w');
  const common = { kind: 'object', formatVersion: 3, contentAlgorithm, ...claimedLength(entries) } as const;
  // The wrapped key, its algorithm and descriptions are in the object metadata or all in the instruction file.
  if (wrapped === undefined) {
    const misplaced = ['x-amz-w', 'x-amz-m', 'x-amz-t'].find((key) => entries.has(key));
    if (misplaced !== undefined) throw malformed(`V3 metadata with ${misplaced} but without x-amz-3`);
    return { ...common, instructionFile: true };
  }
  if (wrap === undefined) throw malformed('V3 metadata without x-amz-w');
  const wrapAlgorithm = WRAP_ALGORITHMS_V3[wrap];
  if (wrapAlgorithm === undefined) throw malformed(`x-amz-w ${quoteUntrusted(wrap)} is not a V3 wrapping algorithm`);
  const m = entries.get('x-amz-m');
  const t = entries.get('x-amz-t');
  return {
    ...common,
    wrapAlgorithm,
    ...(m !== undefined ? { materialDescription: stringMap(m, 'x-amz-m') } : {}),
    ...(t !== undefined ? { encryptionContext: stringMap(t, 'x-amz-t') } : {}),
    instructionFile: false,
    wrappedKeyLength: base64Length(wrapped, 'x-amz-3'),
  };
}

/**
 * What the user metadata of an object says about S3EC: its content metadata, that the object is an
 * instruction file, or `undefined` when it carries no S3EC metadata at all (a plaintext object, or
 * an S3EC V1/V2 object whose content metadata is wholly in an instruction file and whose metadata
 * has no `x-amz-unencrypted-content-length`: only that file can tell). Throws EnvelopeError
 * `ERR_ENVELOPE_MALFORMED` for S3EC metadata that deviates from the specification.
 */
export function parseS3ecMetadata(metadata: Readonly<Record<string, string>> | undefined): S3ecContentMetadata | S3ecInstructionFile | undefined {
  return describeS3ecEntries(s3ecEntries(metadata ?? {}));
}

/** @internal {@link parseS3ecMetadata} of entries already collected (object metadata, or an instruction file merged with it). */
export function describeS3ecEntries(entries: Map<string, string>): S3ecContentMetadata | S3ecInstructionFile | undefined {
  if (entries.size === 0) return undefined;
  const wrappedKeys = ['x-amz-key', 'x-amz-key-v2', 'x-amz-3'].filter((key) => entries.has(key));
  if (wrappedKeys.length > 1) throw malformed(`more than one wrapped key (${wrappedKeys.join(', ')})`);
  const v3 = V3_KEYS.some((key) => entries.has(key));
  const v12 = [...V12_KEYS].some((key) => entries.has(key));
  if (entries.has(INSTRUCTION_FILE_MARKER)) {
    if (entries.size > 1) throw malformed(`${INSTRUCTION_FILE_MARKER} on an object that carries content metadata itself`);
    return { kind: 'instruction-file' };
  }
  if (v3 && v12) throw malformed('V3 and V1/V2 metadata on one object');
  if (v3) return parseV3(entries);
  if (entries.has('x-amz-key-v2')) return parseV2(entries);
  if (entries.has('x-amz-key')) return parseV1(entries);
  if (v12) throw malformed('V1/V2 content metadata without a wrapped key (x-amz-key, x-amz-key-v2)');
  // Only x-amz-unencrypted-content-length: an S3EC V1/V2 writer that kept everything else in an instruction file.
  return { kind: 'object', instructionFile: true, ...claimedLength(entries) };
}

/**
 * The plaintext length of an S3EC object stored as `storedLength` bytes, as far as it can be known
 * without decrypting: GCM (and the committing suite) adds exactly one 16-byte tag; CBC pads by 1 to
 * 16 bytes, so only a claimed length within that range is taken. `undefined` when unknown.
 */
export function s3ecPlaintextLength(metadata: S3ecContentMetadata, storedLength: number): number | undefined {
  const claimed = metadata.claimedPlaintextLength;
  const plausible = claimed !== undefined && claimed < storedLength && claimed >= storedLength - CBC_BLOCK ? claimed : undefined;
  return isGcm(metadata) ? storedLength - S3EC_GCM_TAG_LENGTH : plausible;
}

function isGcm(metadata: S3ecContentMetadata): boolean {
  return metadata.contentAlgorithm === S3EC_GCM || metadata.contentAlgorithm === S3EC_COMMITTING_SUITE;
}

/** Fails unless `storedLength` is possible for the object's content algorithm. */
export function checkS3ecStoredLength(metadata: S3ecContentMetadata, storedLength: number): void {
  const cbc = metadata.contentAlgorithm === S3EC_CBC;
  if ((isGcm(metadata) || cbc) && storedLength < S3EC_GCM_TAG_LENGTH) {
    throw new DecryptionError('ERR_OBJECT_TRUNCATED', `an S3 Encryption Client object of ${storedLength} bytes is too short for ${metadata.contentAlgorithm}`);
  }
  if (cbc && storedLength % CBC_BLOCK !== 0) {
    throw new DecryptionError('ERR_OBJECT_MALFORMED', `an S3 Encryption Client object of ${storedLength} bytes is not a whole number of ${S3EC_CBC} blocks`);
  }
}
