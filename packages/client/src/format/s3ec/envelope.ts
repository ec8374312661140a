// An S3EC object's content metadata as one typed value: what parseS3ecMetadata recognises, with the
// bytes (wrapped key, IV, message id, commitment) decoded and an instruction file merged in the way
// the specification allows (s3-encryption/data-format/metadata-strategy.md). Nothing is decrypted.
import { EnvelopeError, NotEncryptedError } from '../../errors.js';
import { quoteUntrusted } from '../../untrusted-text.js';
import { S3EC_CONTENT_ALGORITHM_CONTEXT_KEY, S3EC_V3_CONTENT_ALGORITHM_ID } from '../../keyrings/s3ec-ids.js';
import { instructionFileEntries } from './instruction-file.js';
import {
  base64Bytes,
  describeS3ecEntries,
  INSTRUCTION_FILE_MARKER,
  malformed,
  S3EC_CBC,
  S3EC_COMMITTING_SUITE,
  S3EC_GCM,
  s3ecEntries,
  stringMap,
  V1_V2_KEYS,
  V3_INSTRUCTION_FILE_KEYS,
  V3_OBJECT_ONLY_KEYS,
  type S3ecContentMetadata,
} from './metadata.js';

/**
 * How an S3EC object's data key is wrapped. `AES/GCM`, `kms+context` and `RSA-OAEP-SHA1` are current;
 * the others are legacy (read only): `AESWrap`, `kms`, `RSA/ECB/OAEPWithSHA-256AndMGF1Padding`, and
 * `AES` / `RSA`, which V1 objects imply by the wrapped key's length (they name no algorithm).
 *
 * @example
 * ```ts
 * const legacy = isLegacyS3ecWrapAlgorithm(envelope.wrapAlgorithm);
 * ```
 */
export type S3ecWrapAlgorithm = 'AES/GCM' | 'kms+context' | 'RSA-OAEP-SHA1' | 'AESWrap' | 'kms' | 'RSA/ECB/OAEPWithSHA-256AndMGF1Padding' | 'AES' | 'RSA';

const CURRENT_WRAP_ALGORITHMS: ReadonlySet<S3ecWrapAlgorithm> = new Set(['AES/GCM', 'kms+context', 'RSA-OAEP-SHA1']);
const KMS_WRAP_ALGORITHMS: ReadonlySet<S3ecWrapAlgorithm> = new Set(['kms+context', 'kms']);
/** Java's rule for V1 objects: an AES-wrapped 32-byte key is at most 48 bytes, an RSA-wrapped one longer. */
const V1_AES_WRAPPED_MAX = 48;

/**
 * Whether an S3EC wrapping algorithm is legacy: the official clients read it only when legacy
 * wrapping algorithms are enabled, and never write it.
 *
 * @example
 * ```ts
 * if (isLegacyS3ecWrapAlgorithm(envelope.wrapAlgorithm) && !options.legacy) throw refuse();
 * ```
 */
export function isLegacyS3ecWrapAlgorithm(wrapAlgorithm: S3ecWrapAlgorithm): boolean {
  return !CURRENT_WRAP_ALGORITHMS.has(wrapAlgorithm);
}

interface S3ecEnvelopeBase {
  readonly wrapAlgorithm: S3ecWrapAlgorithm;
  /** The wrapped data key (`x-amz-key`, `x-amz-key-v2` or `x-amz-3`). */
  readonly wrappedKey: Uint8Array;
  /**
   * The material description (`x-amz-m`; for raw wrappings in V1/V2, `x-amz-matdesc`): what selects
   * the raw key. `{}` when absent.
   */
  readonly materialDescription: Readonly<Record<string, string>>;
  /**
   * The KMS encryption context (`x-amz-t`; for KMS wrappings in V1/V2, `x-amz-matdesc`), exactly as
   * stored, including `aws:x-amz-cek-alg` (and `kms_cmk_id` where an old writer added it). `{}` when absent.
   */
  readonly encryptionContext: Readonly<Record<string, string>>;
  /** The wrapped key came from the instruction file. */
  readonly instructionFile: boolean;
  /** `x-amz-unencrypted-content-length`, as claimed (unauthenticated). */
  readonly claimedPlaintextLength?: number;
}

/**
 * A V3 object: content encrypted with suite 115 (ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY).
 *
 * @example
 * ```ts
 * if (envelope.formatVersion === 3) console.log(envelope.messageId.length); // 28
 * ```
 */
export interface S3ecEnvelopeV3 extends S3ecEnvelopeBase {
  readonly formatVersion: 3;
  readonly contentAlgorithm: typeof S3EC_COMMITTING_SUITE;
  /** `x-amz-i`: 28 bytes, the HKDF salt. */
  readonly messageId: Uint8Array;
  /** `x-amz-d`: 28 bytes, the key commitment the derived one must equal. */
  readonly keyCommitment: Uint8Array;
}

/**
 * A V1 or V2 object: content encrypted with the data key itself (AES-GCM, or legacy AES-CBC).
 *
 * @example
 * ```ts
 * if (envelope.formatVersion !== 3) console.log(envelope.contentAlgorithm, envelope.iv.length);
 * ```
 */
export interface S3ecEnvelopeV1V2 extends S3ecEnvelopeBase {
  readonly formatVersion: 1 | 2;
  readonly contentAlgorithm: typeof S3EC_GCM | typeof S3EC_CBC;
  /** `x-amz-iv`: 12 bytes (GCM) or 16 (CBC). */
  readonly iv: Uint8Array;
}

/**
 * The content metadata of an object written by the AWS S3 Encryption Client.
 *
 * @example
 * ```ts
 * const envelope: S3ecEnvelope = parseS3ecEnvelope(head.Metadata);
 * ```
 */
export type S3ecEnvelope = S3ecEnvelopeV3 | S3ecEnvelopeV1V2;

/**
 * Parses the user metadata of an S3EC object (names without `x-amz-meta-`), and the body of its
 * instruction file when its content metadata is not all in the object metadata. Which case applies
 * is what `parseS3ecMetadata(metadata).instructionFile` says; an instruction file given for an
 * object whose metadata is complete is ignored, as the official clients never fetch it.
 *
 * - V3 with an instruction file: the object keeps `x-amz-c`, `x-amz-d` and `x-amz-i` (the content
 *   metadata, bound to the ciphertext by the key commitment); the file holds `x-amz-3`, `x-amz-w` and
 *   optionally `x-amz-m`, `x-amz-t`, and must not hold `c`/`d`/`i` or any V1/V2 name.
 * - V1/V2 with an instruction file: the file holds all content metadata; the object metadata at most
 *   `x-amz-unencrypted-content-length`.
 * - KMS wrappings: the stored encryption context must carry `aws:x-amz-cek-alg` equal to the content
 *   algorithm (as the Go client checks), so a rewritten content algorithm cannot pass.
 *
 * Throws EnvelopeError `ERR_ENVELOPE_MALFORMED` for anything else, NotEncryptedError when there is no
 * S3EC metadata and no instruction file.
 *
 * @example
 * ```ts
 * const described = parseS3ecMetadata(head.Metadata);
 * const file = described?.kind === 'object' && described.instructionFile ? await readInstructionFile(key) : undefined;
 * const envelope = parseS3ecEnvelope(head.Metadata ?? {}, file);
 * ```
 */
export function parseS3ecEnvelope(metadata: Readonly<Record<string, string>>, instructionFile?: string | Uint8Array): S3ecEnvelope {
  const objectEntries = s3ecEntries(metadata);
  const described = describeS3ecEntries(objectEntries);
  if (described?.kind === 'instruction-file') throw malformed(`the object is an instruction file itself (${INSTRUCTION_FILE_MARKER})`);
  if (described === undefined && instructionFile === undefined) throw new NotEncryptedError('the object carries no S3 Encryption Client metadata');
  if (described !== undefined && !described.instructionFile) return envelopeOf(objectEntries, described, false);
  if (instructionFile === undefined) throw malformed('the content metadata is in an instruction file, and none was given');
  const fileEntries = instructionFileEntries(instructionFile);
  const merged = described?.formatVersion === 3 ? mergeV3(objectEntries, fileEntries) : mergeV1V2(objectEntries, fileEntries);
  const mergedDescription = describeS3ecEntries(merged);
  if (mergedDescription?.kind !== 'object' || mergedDescription.instructionFile) throw malformed('the instruction file does not complete the content metadata');
  return envelopeOf(merged, mergedDescription, true);
}

function mergeV3(objectEntries: Map<string, string>, fileEntries: Map<string, string>): Map<string, string> {
  const stray = [...fileEntries.keys()].find((name) => !V3_INSTRUCTION_FILE_KEYS.includes(name));
  if (stray !== undefined) {
    throw malformed(V3_OBJECT_ONLY_KEYS.includes(stray) ? `the instruction file holds ${stray}, which V3 keeps in the object metadata` : `a V3 instruction file with ${stray}`);
  }
  if (!fileEntries.has('x-amz-3') || !fileEntries.has('x-amz-w')) throw malformed('a V3 instruction file without x-amz-3 and x-amz-w');
  return new Map([...objectEntries, ...fileEntries]);
}

function mergeV1V2(objectEntries: Map<string, string>, fileEntries: Map<string, string>): Map<string, string> {
  const stray = [...fileEntries.keys()].find((name) => !V1_V2_KEYS.has(name));
  if (stray !== undefined) throw malformed(`a V1/V2 instruction file with ${stray}`);
  const merged = new Map(fileEntries);
  const claimed = objectEntries.get('x-amz-unencrypted-content-length');
  if (claimed !== undefined && !merged.has('x-amz-unencrypted-content-length')) merged.set('x-amz-unencrypted-content-length', claimed);
  return merged;
}

function envelopeOf(entries: Map<string, string>, described: S3ecContentMetadata, fromInstructionFile: boolean): S3ecEnvelope {
  const claimed = described.claimedPlaintextLength !== undefined ? { claimedPlaintextLength: described.claimedPlaintextLength } : {};
  if (described.formatVersion === 3) {
    const wrapAlgorithm = described.wrapAlgorithm as S3ecWrapAlgorithm;
    const m = entries.get('x-amz-m');
    const t = entries.get('x-amz-t');
    const envelope: S3ecEnvelopeV3 = {
      formatVersion: 3,
      contentAlgorithm: S3EC_COMMITTING_SUITE,
      wrapAlgorithm,
      wrappedKey: base64Bytes(entries.get('x-amz-3') as string, 'x-amz-3'),
      messageId: base64Bytes(entries.get('x-amz-i') as string, 'x-amz-i'),
      keyCommitment: base64Bytes(entries.get('x-amz-d') as string, 'x-amz-d'),
      materialDescription: m !== undefined ? stringMap(m, 'x-amz-m') : {},
      encryptionContext: t !== undefined ? stringMap(t, 'x-amz-t') : {},
      instructionFile: fromInstructionFile,
      ...claimed,
    };
    return checkKmsContext(envelope, S3EC_V3_CONTENT_ALGORITHM_ID);
  }
  const formatVersion = described.formatVersion;
  if (formatVersion === undefined) throw malformed('no content metadata format');
  const contentAlgorithm = described.contentAlgorithm as typeof S3EC_GCM | typeof S3EC_CBC;
  const wrappedKey = base64Bytes((entries.get('x-amz-key-v2') ?? entries.get('x-amz-key')) as string, formatVersion === 2 ? 'x-amz-key-v2' : 'x-amz-key');
  const wrapAlgorithm = (described.wrapAlgorithm ?? (wrappedKey.length <= V1_AES_WRAPPED_MAX ? 'AES' : 'RSA')) as S3ecWrapAlgorithm;
  const kms = KMS_WRAP_ALGORITHMS.has(wrapAlgorithm);
  const matdesc = described.materialDescription ?? {};
  const envelope: S3ecEnvelopeV1V2 = {
    formatVersion,
    contentAlgorithm,
    wrapAlgorithm,
    wrappedKey,
    iv: base64Bytes(entries.get('x-amz-iv') as string, 'x-amz-iv'),
    // One map, two meanings (as in the Java client): the KMS encryption context, or the material description.
    materialDescription: kms ? {} : matdesc,
    encryptionContext: kms ? matdesc : {},
    instructionFile: fromInstructionFile,
    ...claimed,
  };
  return wrapAlgorithm === 'kms+context' ? checkKmsContext(envelope, contentAlgorithm) : envelope;
}

function checkKmsContext<T extends S3ecEnvelope>(envelope: T, contentAlgorithm: string): T {
  if (envelope.wrapAlgorithm !== 'kms+context') return envelope;
  const bound = envelope.encryptionContext[S3EC_CONTENT_ALGORITHM_CONTEXT_KEY];
  if (bound !== contentAlgorithm) {
    throw new EnvelopeError(
      'ERR_ENVELOPE_MALFORMED',
      `S3 Encryption Client metadata is malformed: the KMS encryption context binds ${S3EC_CONTENT_ALGORITHM_CONTEXT_KEY} ${bound === undefined ? '(none)' : quoteUntrusted(bound)}, the object says ${contentAlgorithm}`,
    );
  }
  return envelope;
}
